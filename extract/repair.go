package extract

// Repair is one change made to model text to get JSON.
type Repair struct {
	// Kind is one of the Kind constants.
	Kind string
	// Offset is the byte offset in the input where the change starts.
	Offset int
	// Detail is a short fixed description, or the fence line for
	// KindStripFence. It never holds other input text.
	Detail string
}

// Repair kinds. The first two locate the object; the rest are the bounded
// syntax repairs, each tried only at a byte where strict JSON fails.
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
	// KindUnquotedKey is an identifier-like object key that was quoted.
	KindUnquotedKey = "unquoted_key"
	// KindPythonLiteral is True, False or None replaced by true, false or
	// null.
	KindPythonLiteral = "python_literal"
	// KindSmartQuotes is a string delimited by typographic quotes (“…” or
	// ‘…’) turned into a double-quoted one.
	KindSmartQuotes = "smart_quotes"
	// KindRawNewline is a string holding raw newlines, carriage returns or
	// tabs, which were escaped. It is recorded once per string, at the
	// first such byte.
	KindRawNewline = "raw_newline"
)

// Fixed details, shared so that recording a repair does not allocate.
const (
	detailBefore       = "text before object"
	detailAfter        = "text after object"
	detailCloseFence   = "```"
	detailCommaObject  = "trailing comma before '}'"
	detailCommaArray   = "trailing comma before ']'"
	detailLineComment  = "// comment"
	detailBlockComment = "/* */ comment"
	detailSingleQuotes = "single-quoted string"
	detailUnquotedKey  = "unquoted object key"
	detailTrue         = "True as true"
	detailFalse        = "False as false"
	detailNone         = "None as null"
	detailSmartQuotes  = "typographic quotes as \""
	detailRawNewline   = "raw newline, carriage return or tab escaped"
)
