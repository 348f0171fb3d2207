/// A light lexical pass over YAML text that runs *before* the real parser, so that hostile input
/// is refused in linear time instead of crashing or hanging the parser:
///
/// - Nesting depth: Yams composes documents recursively, so `[[[[…` a few hundred thousand deep
///   would overflow the stack. The scan bounds depth (block indentation levels, `- ` entries and
///   flow brackets) and refuses anything deeper than `maximumDepth`.
///
/// Aliases are bounded by `YAMLAliasBudget`, which reads libyaml's own events rather than
/// guessing where an alias starts (a tab after `key:` is enough to fool a lexical guess).
///
/// It also remembers where block scalars (`code: |`) end, so a parse error right after one can
/// say that the code ended early because a line was indented less than the block's content.
struct YAMLPreScan {
    /// A `|` or `>` block scalar: where it starts, how far its content is indented, and the first
    /// line that was indented less and so ended it.
    struct BlockScalar {
        var headerLine: Int
        var contentIndent: Int
        var endLine: Int?
    }

    enum Problem: Error {
        case tooDeep(line: Int, column: Int, limit: Int)
    }

    private(set) var blockScalars: [BlockScalar] = []

    /// Scans `text`; throws the first hostile construct found.
    init(_ text: String, maximumDepth: Int) throws(Problem) {
        var indentStack: [Int] = []
        var flowDepth = 0
        // Inside a block scalar: the header's indentation, and the content's once known.
        var block: (parentIndent: Int, contentIndent: Int?, index: Int)?
        // Inside a quoted scalar that spans lines.
        var openQuote: UInt8?
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Array(rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine[...])
            var indent = 0
            while indent < line.count, line[indent] == UInt8(ascii: " ") { indent += 1 }
            let isBlank = indent == line.count || line[indent] == UInt8(ascii: "#") && openQuote == nil && block == nil
            if var current = block {
                if indent == line.count { continue }  // blank lines belong to the block
                if current.contentIndent == nil {
                    if indent > current.parentIndent {
                        current.contentIndent = indent
                        blockScalars[current.index].contentIndent = indent
                        block = current
                        continue
                    }
                } else if indent >= current.contentIndent! {
                    continue
                }
                blockScalars[current.index].endLine = lineNumber
                block = nil
            }
            if isBlank && openQuote == nil { continue }
            var column = indent
            if openQuote == nil && flowDepth == 0 {
                while let last = indentStack.last, last >= indent { indentStack.removeLast() }
                indentStack.append(indent)
            }
            var atTokenStart = true
            var entries = 0
            while column < line.count {
                let byte = line[column]
                if let quote = openQuote {
                    if byte == quote {
                        if quote == UInt8(ascii: "'"), column + 1 < line.count, line[column + 1] == quote {
                            column += 2
                            continue
                        }
                        openQuote = nil
                        atTokenStart = false
                        } else if byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") {
                        column += 1
                    }
                    column += 1
                    continue
                }
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    column += 1
                    continue
                case UInt8(ascii: "#") where column == 0 || line[column - 1] == UInt8(ascii: " ") || line[column - 1] == UInt8(ascii: "\t"):
                    column = line.count
                    continue
                case UInt8(ascii: "'"), UInt8(ascii: "\"") where atTokenStart:
                    openQuote = byte
                case UInt8(ascii: "["), UInt8(ascii: "{") where atTokenStart || flowDepth > 0:
                    flowDepth += 1
                    if indentStack.count + entries + flowDepth > maximumDepth {
                        throw .tooDeep(line: lineNumber, column: column + 1, limit: maximumDepth)
                    }
                    atTokenStart = true
                    column += 1
                    continue
                case UInt8(ascii: "]"), UInt8(ascii: "}") where flowDepth > 0:
                    flowDepth -= 1
                case UInt8(ascii: ","):
                    if flowDepth > 0 {
                        atTokenStart = true
                            column += 1
                        continue
                    }
                case UInt8(ascii: "-"), UInt8(ascii: "?") where atTokenStart && (column + 1 == line.count || line[column + 1] == UInt8(ascii: " ")):
                    if flowDepth == 0 { entries += 1 }
                    atTokenStart = true
                    column += 1
                    continue
                case UInt8(ascii: ":") where column + 1 == line.count || line[column + 1] == UInt8(ascii: " ") || (flowDepth > 0 && (line[column + 1] == UInt8(ascii: ",") || line[column + 1] == UInt8(ascii: "]") || line[column + 1] == UInt8(ascii: "}"))):
                    if flowDepth == 0 { entries += 1 }
                    atTokenStart = true
                    column += 1
                    continue
                case UInt8(ascii: "|"), UInt8(ascii: ">") where atTokenStart && flowDepth == 0:
                    // A block scalar header: its content is the following more-indented lines.
                    blockScalars.append(BlockScalar(headerLine: lineNumber, contentIndent: 0, endLine: nil))
                    block = (parentIndent: indentStack.last ?? 0, contentIndent: nil, index: blockScalars.count - 1)
                    column = line.count
                    continue
                default:
                    break
                }
                if byte != UInt8(ascii: "&") && byte != UInt8(ascii: "!") {
                    atTokenStart = false
                } else {
                    // An anchor or tag is followed by the node it decorates.
                    while column < line.count, line[column] != UInt8(ascii: " ") { column += 1 }
                    atTokenStart = true
                    continue
                }
                column += 1
            }
            let depth = indentStack.count + entries + flowDepth
            if depth > maximumDepth {
                throw .tooDeep(line: lineNumber, column: indent + 1, limit: maximumDepth)
            }
        }
    }
}
