/// Summary figures over every aggregate row of a run, kept as running totals so they
/// stay exact when `RunState` thins its in-memory row history.
struct RowTotals {
    private(set) var count = 0
    /// The row with the highest step, and the highest-step row that has a loss.
    private(set) var lastStep: Int?
    private(set) var finalLoss: (step: Int, loss: Double)?
    /// The lowest loss and its (earliest) step.
    private(set) var minLoss: (loss: Double, step: Int)?
    private(set) var maxStepTime: Double?
    private var tokensPerSecond = RunningMean()
    private var stepTime = RunningMean()
    private var communicationShare = RunningMean()

    mutating func add(_ row: StepRow) {
        count += 1
        lastStep = max(lastStep ?? row.step, row.step)
        if let loss = row.loss {
            if finalLoss == nil || row.step >= finalLoss!.step { finalLoss = (row.step, loss) }
            if minLoss == nil || loss < minLoss!.loss || (loss == minLoss!.loss && row.step < minLoss!.step) { minLoss = (loss, row.step) }
        }
        if let t = row.stepTimeMax { maxStepTime = max(maxStepTime ?? t, t) }
        tokensPerSecond.add(row.tokensPerSecond)
        stepTime.add(row.stepTimeMean)
        communicationShare.add(row.communicationShare)
    }

    var meanTokensPerSecond: Double? { tokensPerSecond.mean }
    var meanStepTime: Double? { stepTime.mean }
    var meanCommunicationShare: Double? { communicationShare.mean }

    /// The mean of the values given (nil ones skipped); nil when none, or not finite.
    struct RunningMean {
        private var sum = 0.0
        private var n = 0
        mutating func add(_ value: Double?) {
            guard let value else { return }
            sum += value
            n += 1
        }
        var mean: Double? {
            guard n > 0 else { return nil }
            let m = sum / Double(n)
            return m.isFinite ? m : nil
        }
    }
}
