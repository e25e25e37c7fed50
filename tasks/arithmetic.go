package tasks

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one arithmetic question, A Op B, with Op '+' or '-' and A >= B for '-' (answers are never
// negative).
type Problem struct {
	A, B int
	Op   byte
}

// Question is the item's question: "What is 347 + 589?".
func (p Problem) Question() string { return fmt.Sprintf("What is %d %c %d?", p.A, p.Op, p.B) }

// Answer is the right result.
func (p Problem) Answer() int {
	if p.Op == '-' {
		return p.A - p.B
	}
	return p.A + p.B
}

// Worked is the digit-by-digit answer, units first, ending with "The answer is X.":
//
//	958 + 67: "8+7=15, write 5 carry 1. 5+6+1=12, write 2 carry 1. 9+0+1=10. The answer is 1025."
//	1000 - 1: "10-1=9, write 9 borrow 1. 10-0-1=9, write 9 borrow 1. 10-0-1=9, write 9 borrow 1. 1-0-1=0. The answer is 999."
//
// A missing digit of the shorter number is written 0, so every column reads the same way; a column that
// must borrow writes its top digit with the borrowed ten ("10-1"); the last column writes its whole result.
// Equations go without spaces: with digits split into tokens of their own, spaces would be tokens too,
// and the working of a 3-digit sum would be 64 tokens of a 4k BPE instead of 51.
func (p Problem) Worked() string {
	text, _ := p.work(slip{})
	return text
}

// slip is a mistake made on purpose in one column of the worked answer, so that a preference pair can
// reject a plausible wrong answer. The working goes on correctly from the mistake, so the wrong answer is
// right + Delta·10^Col for a misremembered column, right ∓ 10^(Col+1) for a forgotten carry or borrow.
type slip struct {
	Col       int  // the column, 0 = units
	Delta     int  // -1 or +1: the column's result is misremembered by this much (0: not this kind)
	DropCarry bool // the carry or borrow out of Col is forgotten
}

// column is one step of the working.
type column struct {
	lhs   string // "4+8+1", "12-9-1"
	v     int    // what lhs comes to
	digit int    // the digit written (the whole of v in the last column)
	carry bool   // whether a carry (or borrow) goes to the next column
}

// columns works p column by column, making slip s.
func (p Problem) columns(s slip) []column {
	n := len(strconv.Itoa(max(p.A, p.B)))
	cols := make([]column, n)
	carry := 0
	for i, pow := 0, 1; i < n; i, pow = i+1, pow*10 {
		x, y, c := p.A/pow%10, p.B/pow%10, &cols[i]
		if p.Op == '+' {
			c.lhs, c.v = fmt.Sprintf("%d+%d", x, y), x+y+carry
		} else {
			top := x
			if x-y-carry < 0 {
				top, c.carry = x+10, true
			}
			c.lhs, c.v = fmt.Sprintf("%d-%d", top, y), top-y-carry
		}
		if carry > 0 {
			c.lhs += fmt.Sprintf("%c1", p.Op)
		}
		if i == s.Col {
			c.v += s.Delta
		}
		c.digit = c.v
		if p.Op == '+' {
			c.digit, c.carry = c.v%10, c.v >= 10
		}
		if i == n-1 {
			c.digit, c.carry = c.v, false
		}
		if i == s.Col && s.DropCarry {
			c.carry = false
		}
		carry = 0
		if c.carry {
			carry = 1
		}
	}
	return cols
}

// work writes the worked answer with slip s and returns it with the answer it arrives at.
func (p Problem) work(s slip) (string, int) {
	word := "carry"
	if p.Op == '-' {
		word = "borrow"
	}
	var b strings.Builder
	result := 0
	cols := p.columns(s)
	for i, pow := 0, 1; i < len(cols); i, pow = i+1, pow*10 {
		c := cols[i]
		result += c.digit * pow
		if i == len(cols)-1 {
			fmt.Fprintf(&b, "%s=%d. ", c.lhs, c.v)
			break
		}
		fmt.Fprintf(&b, "%s=%d, write %d", c.lhs, c.v, c.digit)
		if c.carry {
			fmt.Fprintf(&b, " %s 1", word)
		}
		b.WriteString(". ")
	}
	fmt.Fprintf(&b, "The answer is %d.", result)
	return b.String(), result
}

// slips lists the mistakes that keep every column plausible: a misremembered column result stays a digit
// (0..19 for a sum, 0..9 for a difference), the last column stays above 0 when there is more than one
// column, and only a carry or borrow that happened can be forgotten. Every slip changes the answer.
func (p Problem) slips() []slip {
	cols := p.columns(slip{})
	var out []slip
	for i, c := range cols {
		last := i == len(cols)-1
		for _, d := range []int{-1, 1} {
			v := c.v + d
			ok := v >= 0 && (p.Op == '+' && v <= 19 || p.Op == '-' && v <= 9)
			if last {
				ok = v >= 0 && (v >= 1 || len(cols) == 1)
			}
			if ok {
				out = append(out, slip{Col: i, Delta: d})
			}
		}
		if c.carry {
			out = append(out, slip{Col: i, DropCarry: true})
		}
	}
	return out
}
