import DLLMEval
import XCTest

/// `--model` / `--model_args` as LLaDA's and dLLM's eval commands spell them.
final class ModelArgumentsTests: XCTestCase {
    func testLLaDACommandLine() throws {
        // eval_llada_lm_eval.sh: --model llada_dist --batch_size 8 --model_args model_path='…',cfg=0.5,is_check_greedy=False,mc_num=128
        let a = try EvalModelArguments.parse(model: "llada_dist",
                                             modelArgs: "model_path='GSAI-ML/LLaDA-8B-Base',cfg=0.5,is_check_greedy=False,mc_num=128",
                                             batchSize: 8)
        XCTAssertEqual(a.path, "GSAI-ML/LLaDA-8B-Base")
        XCTAssertEqual(a.scoring, .diffusion)
        XCTAssertEqual(a.monteCarlo, MonteCarloSettings(mcNum: 128, miniBatch: 8, cfg: 0.5, shift: false, checkGreedy: false))
    }

    func testMiniBatchFromModelArgs() throws {
        let a = try EvalModelArguments.parse(model: "a2d_mdlm", modelArgs: "pretrained=M,mc_num=32,batch_size=8,shift=True,mask_id=5",
                                             batchSize: nil)
        XCTAssertEqual(a.monteCarlo.miniBatch, 8)
        XCTAssertTrue(a.monteCarlo.shift)
        XCTAssertEqual(a.maskID, 5)
        XCTAssertEqual(try EvalModelArguments.parse(model: "llada", modelArgs: "pretrained=M", batchSize: nil).monteCarlo,
                       MonteCarloSettings(mcNum: 128, miniBatch: 1))
        XCTAssertEqual(try EvalModelArguments.parse(model: "hf", modelArgs: "pretrained=M", batchSize: 3).scoring, .ar)
        XCTAssertNil(try EvalModelArguments.parse(model: "some/folder", modelArgs: nil, batchSize: 1).scoring)
    }

    func testRefusals() {
        func refused(_ model: String, _ args: String?, _ batch: Int? = nil, mentions: String) {
            XCTAssertThrowsError(try EvalModelArguments.parse(model: model, modelArgs: args, batchSize: batch)) { error in
                XCTAssertTrue(String(describing: error).contains(mentions), "\(error)")
            }
        }
        refused("llada", "pretrained=M,top_k=5", mentions: "top_k")           // a sampler argument not implemented
        refused("hf", "pretrained=M,steps=256", mentions: "steps")            // diffusion sampler key on an AR backend
        refused("llada", "pretrained=M,remasking=best", mentions: "remasking")
        refused("llada", "pretrained=M,threshold=1.5", mentions: "threshold")
        refused("llada", "pretrained=M,foo=1", mentions: "foo")               // unknown key, by name
        refused("hf", "pretrained=M,mc_num=4", mentions: "mc_num")            // diffusion key on an AR backend
        refused("llada", "pretrained=M,mc_num=6", 4, mentions: "mc_num")      // LLaDA's assert mc_num % batch_size == 0
        refused("llada", "mc_num=4", mentions: "pretrained")
        refused("dream", "pretrained=M", mentions: "dream")
        refused("llada", "pretrained=M,cfg=-1", mentions: "cfg")
        refused("llada", "pretrained=M,is_check_greedy=maybe", mentions: "is_check_greedy")
        refused("llada", "pretrained=M,mc_num=4,mc_num=8", mentions: "twice")
        refused("llada", "pretrained=M,batch_size=2", 2, mentions: "--batch_size")  // given twice, as lm-eval refuses
    }
}
