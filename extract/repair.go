package extract

// Repair is one change made to model text to get JSON.
type Repair struct {
	// Kind is one of the Kind constants.
	Kind string
	// Offset is the byte offset in the input where the change starts.
	Offset int
	// Path is the JSON path of the value the change is in or next to,
	// e.g. `services[0].region` or `["first name"]`; empty at the top
	// level and for fences and prose. Keys are quoted from the input as
	// written, cut to 64 bytes.
	Path string
	// Detail is a short fixed description, or the fence line for
	// KindStripFence. It never holds other input text.
	Detail string
}

// Repair kinds. The first two locate the JSON; the rest are the bounded
// syntax repairs, each tried only at a byte where strict JSON fails and
// only where the text has one reading.
const (
	// KindStripFence is a markdown code fence (```, ```json, ...) around
	// the object that was dropped. Detail is the fence marker as written:
	// backticks and a language tag of at most 32 letters, digits or _-+.#
	KindStripFence = "strip_fence"
	// KindStripProse is non-whitespace text before or after the object,
	// other than its own fences, that was dropped: prose, or other
	// objects. Offset is where that text starts; text before the object
	// ends at [Candidate.Offset], text after it runs to the end.
	KindStripProse = "strip_prose"
	// KindTrailingComma is a comma before '}' or ']' that was removed.
	KindTrailingComma = "trailing_comma"
	// KindComment is a // or /* */ comment replaced by one space.
	KindComment = "comment"
	// KindSingleQuotes is a 'single-quoted' string turned into a
	// double-quoted one.
	KindSingleQuotes = "single_quotes"
	// KindUnquotedKey is an object key without quotes that was quoted: an
	// identifier, or words running to the ':' on the same line.
	KindUnquotedKey = "unquoted_key"
	// KindPythonLiteral is True, False or None replaced by true, false or
	// null, or JavaScript's undefined replaced by null.
	KindPythonLiteral = "python_literal"
	// KindSmartQuotes is a string delimited by typographic quotes (“…” or
	// ‘…’) turned into a double-quoted one.
	KindSmartQuotes = "smart_quotes"
	// KindRawNewline is a string holding raw newlines, carriage returns or
	// tabs, which were escaped. It is recorded once per string, at the
	// first such byte.
	KindRawNewline = "raw_newline"
	// KindInnerQuote is a quote inside a string that does not end it,
	// escaped: a '"' (or a ' in a single-quoted string) ends a string only
	// where what follows it on its line, after spaces, is , } ] ) : a
	// quote, a comment or the end of the line.
	KindInnerQuote = "inner_quote"
	// KindUnquotedValue is a value written without quotes that was read
	// as a string: it runs to the next , } ] or end of line outside
	// brackets it opens itself. Numbers, true, false and null keep their
	// type; a value holding ": " is refused, since it may hide a key.
	KindUnquotedValue = "unquoted_value"
	// KindMissingComma is a comma inserted between two members of an
	// object or two elements of an array.
	KindMissingComma = "missing_comma"
	// KindNumberSpelling is a number written the way JSON does not allow
	// and rewritten: digit groups with '_' (1_000), a leading '+' or '.'
	// (+3, .5), a trailing '.' (5.).
	KindNumberSpelling = "number_spelling"
	// KindQuotedString is a string in backticks (`…`, ``…``), a code block
	// (```…```) or Python triple quotes ("""…""", '''…''') turned into a
	// JSON string. A code block's language tag and the newlines next to
	// its fences are dropped.
	KindQuotedString = "quoted_string"
	// KindEarlyClose is a '}' that closed the outermost object before
	// its members ended ({"a": 1}, "b": 2}): it was dropped and the
	// members read as one object.
	KindEarlyClose = "early_close"
	// KindStrayBracket is a '}', ']' or ')' that closes nothing and was
	// dropped.
	KindStrayBracket = "stray_bracket"
	// KindMissingValue is a member with nothing between its ':' and the
	// next ',' or '}', read as null (unset).
	KindMissingValue = "missing_value"
	// KindTuple is a Python tuple, (1, 2), read as an array.
	KindTuple = "tuple"
	// KindUnclosed is closing brackets added at the end of a text that
	// ends right after a complete string, object or array: the model
	// forgot to close what it opened. A text that ends anywhere else is
	// cut off, and never completed.
	KindUnclosed = "unclosed"
	// KindJSONString is an answer that was one JSON string holding the
	// JSON, read as what it holds (see Options.UnwrapString); the kind
	// has the name schema gives the same reading of a field's string. The
	// offsets of the candidate and of its other repairs are then in the
	// string's content, not in the text.
	KindJSONString = "parse_json_string"
)

// Fixed details, shared so that recording a repair does not allocate.
const (
	detailBefore        = "text before object"
	detailAfter         = "text after object"
	detailCloseFence    = "```"
	detailCommaObject   = "trailing comma before '}'"
	detailCommaArray    = "trailing comma before ']'"
	detailCommaTuple    = "trailing comma before ')'"
	detailLineComment   = "// comment"
	detailBlockComment  = "/* */ comment"
	detailSingleQuotes  = "single-quoted string"
	detailUnquotedKey   = "unquoted object key"
	detailTrue          = "True as true"
	detailFalse         = "False as false"
	detailNone          = "None as null"
	detailUndefined     = "undefined as null"
	detailSmartQuotes   = "typographic quotes as \""
	detailRawNewline    = "raw newline, carriage return or tab escaped"
	detailInnerQuote    = "quote inside a string escaped"
	detailUnquotedValue = "unquoted value read as a string"
	detailMissingComma  = "missing comma inserted"
	detailDigitGroups   = "'_' between digits removed"
	detailPlus          = "leading '+' removed"
	detailLeadingDot    = "'0' added before '.'"
	detailTrailingDot   = "trailing '.' removed"
	detailBackticks     = "backtick string"
	detailJSONString    = "the answer was a JSON string holding JSON"
	detailCodeBlock     = "code block as a string"
	detailTripleQuotes  = "triple-quoted string"
	detailEarlyClose    = "'}' before more members dropped"
	detailStrayBracket  = "closing bracket that closes nothing dropped"
	detailMissingValue  = "missing value read as null"
	detailTuple         = "tuple read as an array"
	detailUnclosed      = "brackets left open at the end closed"
)
