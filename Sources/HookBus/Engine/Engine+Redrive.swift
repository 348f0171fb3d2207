/// Why an event could not be re-driven.
public struct RedriveError: Error, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case unknownEvent
        /// Pending or running: its dispatch is under way.
        case notFinished
        /// Every trigger that failed waits on disk already (a retry, a hold, a limit).
        case waits
        /// Nothing ran for it (every trigger skipped, or none listens).
        case nothingToRedrive
        /// The store could not be read or written.
        case notRecorded
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension Engine {
    /// Runs an event's triggers again by hand: those whose last run failed and that nothing
    /// repeats yet, or, when none failed, every trigger that ran. Each new run is linked to the
    /// run it repeats (`previousRun`) and records who asked. A trigger waiting on disk is left
    /// to its retry (a re-drive now would start a second chain of tries beside it).
    ///
    /// The one decision of what a re-drive repeats, for `hookbus replay --failed` / `--event`,
    /// `POST /api/v1/events/{id}/redrive` and the console.
    /// - Returns: the runs it made and the runs left waiting on disk (the server's dispatcher
    ///   takes those when due; the CLI runs them itself).
    public func redrive(eventID: String, requestedBy: String?) async throws(RedriveError) -> (runs: [CompletedRun], waiting: [DeferredRun]) {
        // A first look answers a request that cannot be carried out without touching the event.
        do {
            guard let stored = try await store.event(id: eventID) else { throw RedriveError(.unknownEvent, "no event with id '\(eventID)'") }
            guard stored.state == .done || stored.state == .waiting else {
                throw RedriveError(.notFinished, "event '\(eventID)' is \(stored.state.rawValue): it can be re-driven once its runs have ended")
            }
            _ = try await redriveTargets(eventID: eventID)
        } catch let error as RedriveError {
            throw error
        } catch {
            throw RedriveError(.notRecorded, "the store could not be read: \(error)")
        }
        let stored: StoredEvent?
        do {
            stored = try await store.beginRedrive(eventID: eventID)
        } catch {
            throw RedriveError(.notRecorded, "the re-drive could not be recorded: \(error)")
        }
        guard let stored else {
            throw RedriveError(.notFinished, "event '\(eventID)' was taken by its dispatch or another re-drive meanwhile: it can be re-driven once its runs have ended")
        }
        // The targets are decided again now that the event is this re-drive's (`running`: no
        // dispatch or other re-drive takes it): targets read before the claim could be runs
        // that a re-drive finishing in between has already repeated, and would be repeated twice.
        let previous: [String: Int64]
        do {
            previous = try await redriveTargets(eventID: eventID)
        } catch {
            do {
                try await store.eventDone(eventID, waitForDisk: true)
            } catch let release {
                throw RedriveError(.notRecorded, "nothing was re-driven, and the event could not be set back from running: \(release) (the next start dispatches it again)")
            }
            throw error as? RedriveError ?? RedriveError(.notRecorded, "the store could not be read: \(error)")
        }
        let (_, runs, waiting) = await dispatch(stored, previousRuns: previous, requestedBy: requestedBy)
        return (runs, waiting)
    }

    /// Whether a re-drive of the event would run something now (the console's button): the
    /// same rules as `redrive`, without claiming it.
    public func canRedrive(_ stored: StoredEvent) async -> Bool {
        guard stored.state == .done || stored.state == .waiting, stored.event.hook.rawValue != "action" else { return false }
        do {
            return try await !redriveTargets(eventID: stored.event.id).isEmpty
        } catch {
            return false
        }
    }

    /// The triggers a re-drive of the event repeats, each with the run it repeats.
    func redriveTargets(eventID: String) async throws -> [String: Int64] {
        var previous: [String: Int64] = [:]
        for run in try await store.unrepeatedFailures(eventID: eventID) { previous["\(run.integration)/\(run.trigger)"] = run.id }
        if previous.isEmpty {
            for run in try await store.runs(RunFilter(eventID: eventID, limit: 10_000)).reversed() where run.outcome != RunOutcome.skipped.rawValue {
                previous["\(run.integration)/\(run.trigger)"] = run.id
            }
        }
        let deferred = try await store.deferredRuns(eventID: eventID, limit: 10_000)
        for row in deferred { previous[row.qualifiedTrigger] = nil }
        if previous.isEmpty, let row = deferred.first {
            throw RedriveError(.waits, "nothing to re-drive now: \(row.qualifiedTrigger) waits (\(row.reason))")
        }
        guard !previous.isEmpty else { throw RedriveError(.nothingToRedrive, "nothing to re-drive: no trigger ran for event '\(eventID)'") }
        return previous
    }
}
