package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/strictjson"
)

// maxArgumentBytes bounds the arguments object a tool accepts. The largest
// legitimate call is a few hundred bytes.
const maxArgumentBytes = 64 << 10

// maxArgumentDepth bounds the nesting of an arguments object: the object,
// a list argument, its items.
const maxArgumentDepth = 8

// isTopLevel reports whether a duplicated member name is one of the
// arguments object's own (not a name inside an argument's value).
func isTopLevel(raw []byte, name string) bool {
	obj, err := strictjson.Decode(raw, strictjson.Spec{AllowUnknown: true, MaxDepth: 1})
	if err == nil {
		return false
	}
	var se *strictjson.Error
	return errors.As(err, &se) && se.Kind == strictjson.ErrDuplicate && se.Name == name && obj == nil
}

// argType is the JSON type an argument must have.
type argType int

const (
	argString argType = iota
	argInteger
	argBoolean
	argStringList
)

// maxListItems bounds a list argument; the policy's own cap (max_tags, at
// most 50) is far lower and is the one a refusal names.
const maxListItems = 1000

// argSpec describes one argument a tool accepts: its name and type exactly
// as the advertised JSON schema gives them. Length and range limits that the
// policy checks (tag, name, expiry, rate limits) are left to the policy, so
// that the refusal names the rule; the others are enforced here.
type argSpec struct {
	name     string
	typ      argType
	required bool
	maxLen   int      // strings: maximum length in characters, as JSON Schema's maxLength (0 = no limit)
	min, max int64    // integers: inclusive range (max 0 = no upper bound)
	enum     []string // strings: allowed values
}

// argValue is one decoded argument.
type argValue struct {
	str  string
	list []string
	num  int64
	flag bool
	set  bool // present and not null
}

// args is the decoded argument object of one call.
type args struct {
	values map[string]argValue
	// fullAccess lists the argument names through which the call asked for
	// Full Access (see keys.IsFullAccessArgument).
	fullAccess []string
}

// str returns a string argument ("" when absent).
func (a args) str(name string) string { return a.values[name].str }

// list returns a string-list argument (nil when absent).
func (a args) list(name string) []string { return a.values[name].list }

// has reports whether an argument was given and not null.
func (a args) has(name string) bool { return a.values[name].set }

// intPtr returns an integer argument, or nil when absent or null.
func (a args) intPtr(name string) *int {
	v, ok := a.values[name]
	if !ok || !v.set {
		return nil
	}
	n := int(v.num)
	return &n
}

// intOr returns an integer argument or def when absent or null.
func (a args) intOr(name string, def int) int {
	if p := a.intPtr(name); p != nil {
		return *p
	}
	return def
}

// boolOr returns a boolean argument or def when absent or null.
func (a args) boolOr(name string, def bool) bool {
	v, ok := a.values[name]
	if !ok || !v.set {
		return def
	}
	return v.flag
}

// argError is bad input: the message says what was wrong and what to send.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

// errArgs builds an argError.
func errArgs(format string, a ...any) error { return &argError{msg: fmt.Sprintf(format, a...)} }

// rawArguments returns the arguments exactly as the client sent them. Over
// a wire transport mcp-go keeps the original bytes; the in-process transport
// hands over the decoded value, which is re-encoded (a Go map cannot hold a
// duplicate key, so nothing is lost).
func rawArguments(req mcp.CallToolRequest) ([]byte, error) {
	if len(req.Params.RawArguments) > 0 {
		return req.Params.RawArguments, nil
	}
	if raw, ok := req.Params.Arguments.(json.RawMessage); ok {
		return raw, nil
	}
	if req.Params.Arguments == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		return nil, errArgs("arguments must be a JSON object")
	}
	return b, nil
}

// decodeArgs decodes a tool's arguments exactly: property names match
// case-sensitively, unknown and duplicate properties are refused (unknown
// ones that ask for Full Access are collected instead when collectFullAccess
// is set, so the policy can refuse them with its own explanation), types
// are checked without coercion, and integers must be written as integers.
func decodeArgs(raw []byte, specs []argSpec, collectFullAccess bool) (args, error) {
	out := args{values: make(map[string]argValue, len(specs))}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if len(raw) > maxArgumentBytes {
		return out, errArgs("arguments are %d bytes; at most %d are accepted", len(raw), maxArgumentBytes)
	}
	obj, err := strictjson.Decode(raw, strictjson.Spec{AllowUnknown: true, MaxDepth: maxArgumentDepth})
	if err != nil {
		var se *strictjson.Error
		errors.As(err, &se)
		switch {
		case se == nil:
			return out, errArgs("arguments are not valid JSON")
		case se.Kind == strictjson.ErrDuplicate && se.Offset > 0 && isTopLevel(raw, se.Name):
			return out, errArgs("argument %s is given twice; give each argument once", policy.Quote(se.Name))
		case se.Kind == strictjson.ErrDuplicate:
			return out, errArgs("a member name is given twice inside an argument")
		case se.Kind == strictjson.ErrNotObject:
			return out, errArgs("arguments must be a JSON object")
		case se.Kind == strictjson.ErrTrailing:
			return out, errArgs("arguments must be a single JSON object")
		case se.Kind == strictjson.ErrTooDeep:
			return out, errArgs("arguments are nested more than %d levels deep", maxArgumentDepth)
		}
		return out, errArgs("arguments are not valid JSON")
	}
	for _, m := range obj {
		name, value := m.Name, json.RawMessage(m.Value)
		i := slices.IndexFunc(specs, func(s argSpec) bool { return s.name == name })
		if i < 0 {
			if collectFullAccess && keys.IsFullAccessArgument(name) {
				out.fullAccess = append(out.fullAccess, name)
				continue
			}
			return out, errArgs("unknown argument %s; this tool takes only: %s", policy.Quote(name), specNames(specs))
		}
		if kind := jsonKind(value); collectFullAccess && (fullAccessShape(name, kind) || emptyPermission(name, value)) {
			// An array, object, number or boolean where one tag belongs, a
			// tags list that is not a list, or a permission that is not a
			// string (null included: it is not "read" or "write") is an
			// attempt at a wider key: refused as Full Access.
			out.fullAccess = append(out.fullAccess, name+" ("+kind+")")
			continue
		}
		v, err := decodeValue(specs[i], value)
		if err != nil {
			return out, err
		}
		out.values[name] = v
	}
	for _, s := range specs {
		if s.required && !out.values[s.name].set {
			// A missing tag is handled by the policy (it is a Full Access
			// shape); other required arguments are reported here.
			if collectFullAccess && s.name == "tag" {
				continue
			}
			return out, errArgs("argument %q is required", s.name)
		}
	}
	return out, nil
}

// integerValue reads a JSON number that is a whole number within int32
// (JSON Schema's "integer": 30, 30.0 and 3e1 are integers, 30.5 and 1.25e1
// are not). It decides on the decimal text alone, never after a conversion
// to float64, which would round 89.99999999999999999 to 90. Text that is
// not a JSON number is refused.
func integerValue(text string) (int64, bool) {
	digits, exp, neg, ok := splitNumber(text)
	if !ok {
		return 0, false
	}
	// The value is digits × 10^exp; move trailing zeros into exp.
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	digits = trimmed
	switch {
	case digits == "":
		return 0, true
	case exp < 0:
		return 0, false // a fraction remains
	case int64(len(digits))+exp > 10:
		return 0, false // at least 10^10
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", int(exp)), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, n >= math.MinInt32 && n <= math.MaxInt32
}

// splitNumber parses JSON number text (RFC 8259: -?int(.frac)?([eE][+-]?exp)?)
// into its significant digits without leading zeros, the power of ten they
// are multiplied by, and the sign. An exponent beyond ±10^9 is saturated:
// the text would need 10^9 digits for that to change the decision.
func splitNumber(text string) (digits string, exp int64, neg, ok bool) {
	s := text
	if rest, found := strings.CutPrefix(s, "-"); found {
		neg, s = true, rest
	}
	whole := leadingDigits(s)
	if whole == "" || (len(whole) > 1 && whole[0] == '0') {
		return "", 0, false, false
	}
	s = s[len(whole):]
	frac := ""
	if rest, found := strings.CutPrefix(s, "."); found {
		frac = leadingDigits(rest)
		if frac == "" {
			return "", 0, false, false
		}
		s = rest[len(frac):]
	}
	if s != "" {
		if s[0] != 'e' && s[0] != 'E' {
			return "", 0, false, false
		}
		s = s[1:]
		expNeg := false
		if s != "" && (s[0] == '+' || s[0] == '-') {
			expNeg, s = s[0] == '-', s[1:]
		}
		e := leadingDigits(s)
		if e == "" || len(e) != len(s) {
			return "", 0, false, false
		}
		if e = strings.TrimLeft(e, "0"); len(e) > 9 {
			exp = 1e9
		} else if e != "" {
			exp, _ = strconv.ParseInt(e, 10, 64)
		}
		if expNeg {
			exp = -exp
		}
	}
	return strings.TrimLeft(whole+frac, "0"), exp - int64(len(frac)), neg, true
}

// leadingDigits is the run of ASCII digits s starts with.
func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// outOfRangePrefix starts the string OutOfRangeNumber puts in place of a
// number literal. The NUL makes it a value no argument accepts anyway.
const outOfRangePrefix = "\x00mcp-keys: number out of float64 range: "

// OutOfRangeNumber returns the JSON string that stands in for literal, a
// number in a tools/call's arguments too large for a float64 (1e400). mcp-go
// decodes the arguments into float64 before any handler runs and answers
// such a call with a JSON-RPC error; the stdio layer replaces the literal
// with this marker instead, which every argument decoder refuses as the
// number it stands for, so the call gets an isError result (and, for the
// deciding tools, an audit record) like any other bad argument.
func OutOfRangeNumber(literal []byte) []byte {
	b, _ := json.Marshal(outOfRangePrefix + string(literal))
	return b
}

// outOfRangeLiteral returns the literal an OutOfRangeNumber marker stands
// for, and whether value is one.
func outOfRangeLiteral(value json.RawMessage) (string, bool) {
	if !bytes.HasPrefix(value, []byte(`"\u0000`)) {
		return "", false
	}
	var s string
	if json.Unmarshal(value, &s) != nil {
		return "", false
	}
	return strings.CutPrefix(s, outOfRangePrefix)
}

// fullAccessShape reports whether a value of the given JSON kind for a
// create argument asks for more than a scoped key.
func fullAccessShape(name, kind string) bool {
	switch name {
	case "tag":
		return kind != "a string" && kind != "null"
	case "tags":
		return kind != "an array" && kind != "null"
	case "permission":
		return kind != "a string"
	}
	return false
}

// emptyPermission reports whether a permission argument is the empty
// string: not "read" or "write", so a Full Access shape, not the default.
func emptyPermission(name string, value json.RawMessage) bool {
	return name == "permission" && string(value) == `""`
}

// decodeValue checks one value against its spec.
func decodeValue(s argSpec, value json.RawMessage) (argValue, error) {
	if bytes.Equal(value, []byte("null")) {
		return argValue{}, nil
	}
	if lit, ok := outOfRangeLiteral(value); ok && s.typ == argInteger {
		return argValue{}, errArgs("argument %q must be a whole number from %d to %d, got %s", s.name, math.MinInt32, math.MaxInt32, policy.Quote(lit))
	}
	switch s.typ {
	case argString:
		var str string
		if jsonKind(value) != "a string" || json.Unmarshal(value, &str) != nil {
			return argValue{}, errArgs("argument %q must be a string, got %s", s.name, jsonKind(value))
		}
		if n := utf8.RuneCountInString(str); s.maxLen > 0 && n > s.maxLen {
			return argValue{}, errArgs("argument %q is %d characters long; at most %d are allowed", s.name, n, s.maxLen)
		}
		if len(s.enum) > 0 && !slices.Contains(s.enum, str) {
			return argValue{}, errArgs("argument %q must be one of %s, got %s", s.name, strings.Join(s.enum, ", "), policy.Quote(str))
		}
		return argValue{str: str, set: true}, nil
	case argInteger:
		if value[0] != '-' && (value[0] < '0' || value[0] > '9') {
			return argValue{}, errArgs("argument %q must be a whole number, got %s", s.name, jsonKind(value))
		}
		n, ok := integerValue(string(value))
		if !ok {
			return argValue{}, errArgs("argument %q must be a whole number from %d to %d, got %s", s.name, math.MinInt32, math.MaxInt32, policy.Quote(string(value)))
		}
		if n < s.min || (s.max != 0 && n > s.max) {
			return argValue{}, errArgs("argument %q must be between %d and %d, got %d", s.name, s.min, s.max, n)
		}
		return argValue{num: n, set: true}, nil
	case argStringList:
		var list []json.RawMessage
		if jsonKind(value) != "an array" || json.Unmarshal(value, &list) != nil {
			return argValue{}, errArgs("argument %q must be an array of strings, got %s", s.name, jsonKind(value))
		}
		if len(list) > maxListItems {
			return argValue{}, errArgs("argument %q has %d items; at most %d are accepted", s.name, len(list), maxListItems)
		}
		out := make([]string, len(list))
		for i, item := range list {
			if jsonKind(item) != "a string" || json.Unmarshal(item, &out[i]) != nil {
				return argValue{}, errArgs("argument %q must hold only strings; item %d is %s", s.name, i+1, jsonKind(item))
			}
		}
		return argValue{list: out, set: true}, nil
	case argBoolean:
		switch string(value) {
		case "true":
			return argValue{flag: true, set: true}, nil
		case "false":
			return argValue{flag: false, set: true}, nil
		}
		return argValue{}, errArgs("argument %q must be true or false, got %s", s.name, jsonKind(value))
	}
	return argValue{}, fmt.Errorf("argument %q: unknown spec type %d", s.name, s.typ)
}

// jsonKind names the JSON type of a raw value for error messages. An
// OutOfRangeNumber marker is the number it stands for.
func jsonKind(v json.RawMessage) string {
	if _, ok := outOfRangeLiteral(v); ok {
		return "a number"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// specNames lists the argument names of a tool.
func specNames(specs []argSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}
