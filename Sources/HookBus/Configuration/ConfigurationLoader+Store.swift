import Yams

extension ConfigurationLoader {
    /// `store:` — `kind: sqlite` (the default: one file in `data_dir`) or `kind: postgres` with
    /// `url` (a secret: `{env: NAME}` or `{file: PATH}`, since the URL may hold a password),
    /// `node` (this node's name; default host and port for a server, host and pid for a
    /// command), `connections` (the pool's size, default 8) and `accept_writers` (accept batches
    /// committed side by side, default 1).
    func readStore(_ node: Node?, into configuration: inout HookBusConfiguration, reader: inout NodeReader) {
        guard let node, let view = reader.mapping(node, key: "store") else { return }
        _ = reader.reportUnknownKeys(in: view, known: ["kind", "url", "node", "connections", "accept_writers"], context: "store")
        let kind = view["kind"].flatMap { reader.string($0, key: "store.kind") } ?? "sqlite"
        switch kind {
        case "sqlite":
            for key in ["url", "node", "connections", "accept_writers"] where view.has(key) {
                reader.sink.error("'store.\(key)' is for 'kind: postgres'; the SQLite store is the file in 'data_dir'", at: reader.position(view.keyNode(key)!))
            }
            configuration.store = .sqlite
        case "postgres":
            guard let urlNode = view["url"] else {
                reader.sink.error("'store' of kind postgres needs 'url' ({env: NAME} or {file: PATH} holding postgres://user:password@host:5432/database)",
                                  at: reader.position(node))
                return
            }
            guard let url = secret(urlNode, key: "store.url", everyCommand: true, reader: &reader) else { return }
            let name = view["node"].flatMap { reader.string($0, key: "store.node") }
            let connections = view["connections"].flatMap { positiveNumber($0, key: "store.connections", reader: &reader) }.map { Int($0) } ?? 8
            let writers = view["accept_writers"].flatMap { positiveNumber($0, key: "store.accept_writers", reader: &reader) }.map { Int($0) } ?? 1
            if writers >= connections, let node = view.keyNode("accept_writers") {
                reader.sink.error("'store.accept_writers' (\(writers)) must be below 'store.connections' (\(connections)): claims and run records need connections too", at: reader.position(node))
            }
            configuration.store = .postgres(url: url, node: name, connections: connections, acceptWriters: writers)
        default:
            reader.sink.error("'store.kind' must be sqlite or postgres, not '\(kind)'", at: reader.position(view["kind"]!))
        }
    }
}
