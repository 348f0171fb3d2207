public import Logging
import Foundation
import Synchronization

/// One log line per message on standard error: time, level, label, message, then metadata as
/// `key=value` pairs — the event id among them, so a run's lines can be found with grep.
///
/// Unlike swift-log's `StreamLogHandler`, metadata is formatted when a line is written, not each
/// time a key is set: the HTTP layer sets a request id on every request, and formatting it there
/// cost the accept path a few percent of its CPU even with nothing logged.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private static let output = Mutex(())

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let (level, message, explicit) = (event.level, event.message, event.metadata)
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit { all.merge(explicit) { $1 } }
        var text = "\(Date().formatted(.iso8601)) \(level) \(label): \(message)"
        for key in all.keys.sorted() { text += " \(key)=\(all[key]!)" }
        text += "\n"
        Self.output.withLock { _ in FileHandle.standardError.write(Data(text.utf8)) }
    }
}
