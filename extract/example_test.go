package extract_test

import (
	"fmt"

	"github.com/guardgen/guardgen/extract"
)

func ExampleJSON() {
	answer := "Sure! Here is the JSON:\n```json\n{'name': 'Ada', \"active\": True,}\n```\nAnything else?"
	c, err := extract.JSON(answer, extract.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(c.JSON))
	for _, r := range c.Repairs {
		fmt.Printf("%d %s: %s\n", r.Offset, r.Kind, r.Detail)
	}

	_, err = extract.JSON(`{"name": "Ada", "act`, extract.Options{})
	fmt.Println(err)
	// Output:
	// {"name": "Ada", "active": true}
	// 0 strip_prose: text before object
	// 24 strip_fence: ```json
	// 33 single_quotes: single-quoted string
	// 41 single_quotes: single-quoted string
	// 58 python_literal: True as true
	// 62 trailing_comma: trailing comma before '}'
	// 65 strip_fence: ```
	// 69 strip_prose: text after object
	// extract: truncated JSON at byte 16: text ends inside string
}
