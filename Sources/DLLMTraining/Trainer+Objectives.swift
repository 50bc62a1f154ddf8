import DLLMCompute
import DLLMModels

extension Trainer {
    /// Forward, loss and backward of one prepared micro-batch: cross-entropy on the LM head (run
    /// on the objective's scored positions, or on the rows the loss weights: a masked-diffusion
    /// batch's masked tokens), or the Edit Flows loss on the edit heads when the objective asked for it.
    static func forwardBackward(_ model: any LanguageModel<Float>, _ batch: ObjectiveBatch, dloss: Float) -> Double {
        guard let targets = batch.editFlow else {
            if batch.logitPositions == nil {
                return model.forwardBackwardOnWeightedRows(batch.inputs, mask: batch.mask, targets: batch.targets, weights: batch.weights, dloss: dloss)
            }
            return model.forwardBackward(batch.inputs, mask: batch.mask, logitPositions: batch.logitPositions ?? 0..<batch.inputs.T,
                                         targets: batch.targets, weights: batch.weights, dloss: dloss)
        }
        let heads = editFlowModel(model)
        let loss = EditFlowLoss.forwardBackward(heads.editFlowForward(batch.inputs, mask: batch.mask), targets, dloss: dloss)
        heads.editFlowBackward()
        return loss
    }

    /// The loss of one prepared micro-batch, without backward (evaluation), the head on the same
    /// rows as in ``forwardBackward(_:_:dloss:)``.
    static func loss(_ model: any LanguageModel<Float>, _ batch: ObjectiveBatch) -> Double {
        guard let targets = batch.editFlow else {
            guard let positions = batch.logitPositions else {
                return model.lossOnWeightedRows(batch.inputs, mask: batch.mask, targets: batch.targets, weights: batch.weights)
            }
            guard model.supportsLogitPositions else {
                model.forward(batch.inputs, mask: batch.mask)
                return model.loss(targets: batch.targets, weights: batch.weights)
            }
            let (B, T) = (batch.inputs.B, batch.inputs.T)
            model.forward(batch.inputs, mask: batch.mask, logitPositions: positions)
            return model.loss(targets: batch.targets.rows(at: positions, B: B, T: T), weights: batch.weights.rows(at: positions, B: B, T: T))
        }
        // The gradients the loss leaves in the outputs are never used.
        return EditFlowLoss.forwardBackward(editFlowModel(model).editFlowForward(batch.inputs, mask: batch.mask), targets)
    }

    /// `model` as an Edit Flows model; ``TrainingRun`` refuses `objective: editflow` on any other.
    static func editFlowModel(_ model: any LanguageModel<Float>) -> any EditFlowLanguageModel<Float> {
        guard let heads = model as? any EditFlowLanguageModel<Float> else {
            preconditionFailure("Trainer: objective editflow on a model without Edit Flows heads")
        }
        return heads
    }
}
