/// What an action says of its result: the `output` paths and the `table_view` columns, parsed.
/// A run whose stdout is JSON has them evaluated and kept with the run in the audit trail.
public struct ResultSpec: Sendable, Hashable {
    public struct Column: Sendable, Hashable {
        public let name: String
        public let path: OutputPath
    }

    public let outputs: [OutputPath]
    public let columns: [Column]

    public static let none = ResultSpec(outputs: [], columns: [])

    public init(outputs: [OutputPath], columns: [Column]) {
        self.outputs = outputs
        self.columns = columns
    }

    /// The action's paths (those that do not parse were refused at load and are left out).
    public init(_ action: ActionDefinition) {
        outputs = action.output.compactMap { try? OutputPath($0.path) }
        columns = action.tableView.compactMap { column in (try? OutputPath(column.value)).map { Column(name: column.displayName, path: $0) } }
    }

    public var isEmpty: Bool { outputs.isEmpty && columns.isEmpty }

    /// `{"output": {path: value or null}, "table": {"columns": [...], "rows": [[text]]}}` for a
    /// JSON stdout; nil when there is nothing to evaluate or stdout is not JSON.
    ///
    /// Table rows: a column whose path takes `[]` gives one cell per element (blank where an
    /// element lacks the value, so rows stay aligned); the table has as
    /// many rows as the longest such column, the shorter ones left blank, and a column with a
    /// single value repeats it on every row.
    public func evaluate(stdout: String) -> JSONValue? {
        guard !isEmpty, let result = try? JSONParser.parse(stdout) else { return nil }
        var value: [String: JSONValue] = [:]
        if !outputs.isEmpty {
            var found: [String: JSONValue] = [:]
            for path in outputs { found[path.text] = path.evaluate(result) ?? .null }
            value["output"] = .object(found)
        }
        if !columns.isEmpty {
            let cells = columns.map { column -> (list: [String]?, single: String) in
                let found = column.path.evaluate(result, keepingGaps: true)
                if case let .array(elements)? = found, column.path.iterates { return (elements.map(OutputPath.text), "") }
                return (nil, found.map(OutputPath.text) ?? "")
            }
            let count = cells.compactMap { $0.list?.count }.max() ?? 1
            let rows: [JSONValue] = (0..<count).map { index in
                .array(cells.map { cell in
                    guard let list = cell.list else { return .string(cell.single) }
                    return .string(index < list.count ? list[index] : "")
                })
            }
            value["table"] = .object(["columns": .array(columns.map { .string($0.name) }), "rows": .array(rows)])
        }
        return .object(value)
    }
}

extension OutputPath {
    /// Whether the path takes `[]` before any pipe (its value is a list of matches).
    var iterates: Bool { steps.contains(.each) && !pipes.contains { if case .join = $0 { return true } else { return false } } }
}
