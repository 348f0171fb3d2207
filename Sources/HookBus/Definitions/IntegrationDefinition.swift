/// Where an element was defined: the file and the line and column of its first key.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// An entry of a `values` list: the key passed to the code and the label shown to the user.
public struct ListValue: Sendable, Hashable, Codable {
    public var key: String
    public var label: String

    public init(key: String, label: String) {
        self.key = key
        self.label = label
    }
}

/// An integration definition file: the product an integration connects to and how to configure
/// a connection to it.
public struct IntegrationDefinition: Sendable, Hashable {
    /// The integration's code language and connection test.
    public struct Script: Sendable, Hashable {
        public var type: ScriptType
        public var testConnectionCode: String?
    }

    /// One configuration parameter (`configuration.data_attributes.<name>`), passed to every run
    /// of the integration's code as an environment variable named `name`.
    public struct DataAttribute: Sendable, Hashable {
        public var name: String
        public var label: String
        public var type: AttributeType
        public var required: Bool
        public var validator: AttributeValidator?
        public var defaultValue: String?
        public var values: [ListValue]
        public var hint: String?
        public var location: SourceLocation

        /// A `password` field's value is a secret: masked in every printout, never stored.
        public var isSecret: Bool { type == .password }
    }

    /// A column of the SOAR's resource table (`configuration.listing_attributes.<field>.name`).
    public struct ListingAttribute: Sendable, Hashable {
        public var field: String
        public var name: String
    }

    public var name: String
    public var officialName: String?
    public var version: String?
    public var icon: String?
    public var script: Script
    public var dockerRepoTag: String?
    public var localRepo: Bool?
    public var testableConnection: Bool?
    public var requireProxyConfig: Bool
    public var dataAttributes: [DataAttribute]
    public var listingAttributes: [ListingAttribute]
    public var signature: String?
    /// Keys the framework does not define, kept so a round trip loses nothing.
    public var extraKeys: [String]
    public var location: SourceLocation
}
