package replay

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"modernc.org/sqlite"
)

// osquery registers its own SQL functions and collations on every database it opens (osquery/sql/sqlite_*.cpp,
// registered in sqlite_util.cpp openOptimized). The harness registers the same names with the same results so
// analysts' queries run unchanged. Differences that remain: regular expressions are Go's RE2, not
// std::regex ECMAScript (no backreferences or lookaround; such patterns fail as "Invalid regex" where osquery
// would run them), and carve() and sleep() are not provided.

// sqlError is an error message of osquery's SQL functions, word for word.
type sqlError string

func (e sqlError) Error() string { return string(e) }

// regexMaxSize is osquery's --regex_max_size default.
const regexMaxSize = 256

// registerFunctions registers osquery's SQL functions and collations on drv.
func registerFunctions(drv *sqlite.Driver, platform string) error {
	scalar := map[string]struct {
		n int32
		f func(args []driver.Value) (driver.Value, error)
	}{
		"split":                  {3, sqlSplit},
		"regex_split":            {3, sqlRegexSplit},
		"regex_match":            {3, sqlRegexMatch},
		"inet_aton":              {1, sqlInetAton},
		"concat":                 {-1, func(a []driver.Value) (driver.Value, error) { return concatValues("", a), nil }},
		"concat_ws":              {-1, sqlConcatWS},
		"version_compare":        {-1, sqlVersionCompare},
		"md5":                    {1, hashFunc(func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) })},
		"sha1":                   {1, hashFunc(func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) })},
		"sha256":                 {1, hashFunc(func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) })},
		"community_id_v1":        {-1, communityID(false)},
		"community_id_v1_strict": {-1, communityID(true)},
		"to_base64":              {1, base64Func(false)},
		"conditional_to_base64":  {1, base64Func(true)},
		"from_base64":            {1, sqlFromBase64},
		"in_cidr_block":          {2, sqlInCIDRBlock},
		"parent_directory":       {1, parentDirectory(platform)},
		"find_file_path_in_cmd":  {-1, findFilePathInCmd(platform)},
		"is_path_deterministic":  {-1, isPathDeterministic(platform)},
		"sqrt":                   {1, mathFunc(math.Sqrt)},
		"acos":                   {1, mathFunc(math.Acos)},
		"asin":                   {1, mathFunc(math.Asin)},
		"atan":                   {1, mathFunc(math.Atan)},
		"cos":                    {1, mathFunc(math.Cos)},
		"sin":                    {1, mathFunc(math.Sin)},
		"tan":                    {1, mathFunc(math.Tan)},
		"cot":                    {1, mathFunc(func(x float64) float64 { return 1 / math.Tan(x) })},
		"exp":                    {1, mathFunc(math.Exp)},
		"log":                    {1, mathFunc(math.Log)},
		"log10":                  {1, mathFunc(math.Log10)},
		"power":                  {2, sqlPower},
		"ceil":                   {1, castedFunc(math.Ceil)},
		"floor":                  {1, castedFunc(math.Floor)},
		"degrees":                {1, mathFunc(func(x float64) float64 { return 180 * x / math.Pi })},
		"radians":                {1, mathFunc(func(x float64) float64 { return x * math.Pi / 180 })},
		"pi":                     {0, func([]driver.Value) (driver.Value, error) { return math.Pi, nil }},
	}
	for name, s := range scalar {
		f := s.f
		if err := drv.RegisterDeterministicScalarFunction(name, s.n,
			func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) { return f(args) }); err != nil {
			return fmt.Errorf("register SQL function %s: %w", name, err)
		}
	}
	collations := map[string]versionFlavor{
		"version":      {},
		"version_arch": {epoch: true, compRemaining: true, remainderPrecedence: true},
		"version_dpkg": {epoch: true, delimPrecedence: true},
		"version_rhel": {epoch: true, delimPrecedence: true, compRemaining: true},
	}
	for name, fl := range collations {
		fl := fl
		if err := drv.RegisterCollationUtf8(name, func(l, r string) int { return versionCompare(l, r, fl) }); err != nil {
			return fmt.Errorf("register collation %s: %w", name, err)
		}
	}
	return nil
}

// text renders a value as sqlite3_value_text does; ok is false for NULL.
func text(v driver.Value) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return sqliteReal(x), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	}
	return fmt.Sprint(v), true
}

// sqliteReal renders a REAL as SQLite's "%!.15g".
func sqliteReal(x float64) string {
	s := strconv.FormatFloat(x, 'g', 15, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// intValue is sqlite3_value_int64.
func intValue(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	case string, []byte:
		s, _ := text(x)
		n, _ := strconv.ParseInt(strings.TrimSpace(leadingNumber(s)), 10, 64)
		return n
	}
	return 0
}

// leadingNumber is the longest numeric prefix of s (SQLite converts "12abc" to 12).
func leadingNumber(s string) string {
	s = strings.TrimLeft(s, " \t\n\r")
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// floatValue is sqlite3_value_double.
func floatValue(v driver.Value) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case string, []byte:
		s, _ := text(x)
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			f, _ = strconv.ParseFloat(leadingNumber(s), 64)
		}
		return f
	}
	return 0
}

// index is sqlite3_value_int cast to size_t: negative values are out of range.
func index(v driver.Value) (int, bool) {
	n := int32(intValue(v))
	return int(n), n >= 0
}

// boostSplit is osquery::split: split on any of delims, drop empty pieces, trim the rest.
func boostSplit(s, delims string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
	// FieldsFunc already drops the empty pieces; boost::trim then trims each one.
	for i, p := range parts {
		parts[i] = strings.TrimFunc(p, unicode.IsSpace)
	}
	return parts
}

// splitArgs checks split's and regex_split's arguments as osquery's callStringSplitFunc: any NULL gives
// NULL (ok false), an empty token is an error.
func splitArgs(args []driver.Value) (input, token string, ok bool, err error) {
	input, ok1 := text(args[0])
	token, ok2 := text(args[1])
	if !ok1 || !ok2 || args[2] == nil {
		return "", "", false, nil
	}
	if token == "" {
		return "", "", false, sqlError("Invalid input to split function")
	}
	return input, token, true, nil
}

func sqlSplit(args []driver.Value) (driver.Value, error) {
	input, token, ok, err := splitArgs(args)
	if !ok {
		return nil, err
	}
	return pick(boostSplit(input, token), args[2]), nil
}

func pick(parts []string, idx driver.Value) driver.Value {
	i, ok := index(idx)
	if !ok || i >= len(parts) {
		return nil
	}
	return parts[i]
}

// compileRegex compiles a pattern for regex_match/regex_split.
func compileRegex(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, sqlError("Invalid regex")
	}
	return re, nil
}

func sqlRegexSplit(args []driver.Value) (driver.Value, error) {
	input, token, ok, err := splitArgs(args)
	if !ok {
		return nil, err
	}
	if len(token) > regexMaxSize {
		return nil, sqlError("Invalid regex")
	}
	re, err := compileRegex(token)
	if err != nil {
		return nil, err
	}
	// std::sregex_token_iterator with -1: the text before each match, then the rest if it is not empty.
	var parts []string
	prev := 0
	for _, m := range re.FindAllStringIndex(input, -1) {
		if m[0] == m[1] && m[0] == prev && m[0] != 0 {
			continue
		}
		parts = append(parts, input[prev:m[0]])
		prev = m[1]
	}
	if prev < len(input) {
		parts = append(parts, input[prev:])
	}
	return pick(parts, args[2]), nil
}

func sqlRegexMatch(args []driver.Value) (driver.Value, error) {
	input, ok1 := text(args[0])
	pattern, ok2 := text(args[1])
	if !ok1 || !ok2 || args[2] == nil {
		return nil, nil
	}
	if len(pattern) > regexMaxSize {
		return nil, sqlError(fmt.Sprintf("Invalid regex: too big, max size is %d bytes", regexMaxSize))
	}
	re, err := compileRegex(pattern)
	if err != nil {
		return nil, err
	}
	m := re.FindStringSubmatch(input)
	if m == nil {
		return nil, nil
	}
	return pick(m, args[2]), nil
}

func sqlInetAton(args []driver.Value) (driver.Value, error) {
	s, ok := text(args[0])
	if !ok || strings.Contains(s, ":") {
		return nil, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return nil, nil
	}
	b := a.As4()
	return int64(binary.BigEndian.Uint32(b[:])), nil
}

// concatValues is osquery's concatFunc: NULLs are skipped, sep follows every argument but the last.
func concatValues(sep string, args []driver.Value) string {
	var b strings.Builder
	for i, a := range args {
		s, ok := text(a)
		if !ok {
			continue
		}
		b.WriteString(s)
		if sep != "" && i+1 < len(args) {
			b.WriteString(sep)
		}
	}
	return b.String()
}

func sqlConcatWS(args []driver.Value) (driver.Value, error) {
	if len(args) == 0 {
		return nil, sqlError("Missing separator to concat_ws")
	}
	sep, _ := text(args[0])
	return concatValues(sep, args[1:]), nil
}

// versionFlavor selects the options of osquery's versionCompare.
type versionFlavor struct{ epoch, delimPrecedence, compRemaining, remainderPrecedence bool }

func sqlVersionCompare(args []driver.Value) (driver.Value, error) {
	if len(args) < 2 {
		return nil, sqlError("Must provide two version strings to compare.")
	}
	l, lok := args[0].(string)
	r, rok := args[1].(string)
	if !lok || !rok {
		return nil, sqlError("Must provide two version strings to compare.")
	}
	var fl versionFlavor
	if len(args) > 2 {
		f, ok := args[2].(string)
		if !ok {
			return nil, sqlError("The optional third parameter is not a string.")
		}
		switch strings.ToUpper(f) {
		case "ARCH":
			fl = versionFlavor{epoch: true, compRemaining: true, remainderPrecedence: true}
		case "DPKG":
			fl = versionFlavor{epoch: true, delimPrecedence: true}
		case "RHEL":
			fl = versionFlavor{epoch: true, delimPrecedence: true, compRemaining: true}
		default:
			return nil, sqlError("The optional third parameter does not match one of: (ARCH, DPKG, RHEL).")
		}
	}
	return int64(max(-1, min(1, versionCompare(l, r, fl)))), nil
}

func delimiterPrecedence(c byte) int {
	switch c {
	case '~':
		return 1
	case '-':
		return 2
	case '^':
		return 3
	case '.':
		return 4
	case ':':
		return 5
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// at returns s[i], or 0 past the end (the NUL a C string would have there).
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// versionCompare is osquery's versionCompare (osquery/sql/sqlite_version.cpp), byte for byte.
func versionCompare(l, r string, fl versionFlavor) int {
	switch {
	case l == "" && r == "":
		return 0
	case l == "":
		return -1
	case r == "":
		return 1
	case l == r:
		return 0
	}
	if fl.epoch {
		le, re := strings.IndexByte(l, ':'), strings.IndexByte(r, ':')
		switch {
		case le >= 0 && re >= 0:
			if d := le - re; d != 0 {
				return d
			}
		case le >= 0:
			return 1
		case re >= 0:
			return -1
		}
	}
	firstDiff := 0
	n := min(len(l), len(r))
	for i := 0; i < n; i++ {
		ld, rd := delimiterPrecedence(l[i]), delimiterPrecedence(r[i])
		if ld == 0 && rd == 0 {
			if firstDiff == 0 {
				firstDiff = int(int8(l[i])) - int(int8(r[i]))
			}
			continue
		} else if ld == 0 {
			return 1
		} else if rd == 0 {
			return -1
		}
		if firstDiff != 0 {
			return firstDiff
		}
		if fl.delimPrecedence {
			if d := ld - rd; d != 0 {
				return d
			}
		}
	}
	if len(l) == len(r) {
		return firstDiff
	}
	return compareRemainder(l, r, n, firstDiff, fl.compRemaining, fl.remainderPrecedence)
}

func compareRemainder(l, r string, pos, diff int, compRemaining, remainderPrecedence bool) int {
	if len(l) == pos {
		if compRemaining {
			switch at(r, pos) {
			case '~':
				return 1
			case '-':
				return 0
			case '^':
				return -1
			default:
				if diff != 0 && (!remainderPrecedence || !isDigit(at(l, pos-1))) {
					return diff
				}
			}
		} else if diff != 0 && delimiterPrecedence(at(r, pos)) > 0 {
			return diff
		}
	}
	if len(r) == pos {
		if compRemaining {
			switch at(l, pos) {
			case '~':
				return -1
			case '-':
				return 0
			case '^':
				return 1
			default:
				if diff != 0 && (!remainderPrecedence || !isDigit(at(r, pos-1))) {
					return diff
				}
			}
		} else if diff != 0 && delimiterPrecedence(at(l, pos)) > 0 {
			return diff
		}
	}
	return len(l) - len(r)
}

// hashFunc hashes the argument's text up to its first NUL (osquery uses strlen).
func hashFunc(h func([]byte) string) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		s, ok := text(args[0])
		if !ok {
			return nil, nil
		}
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return h([]byte(s)), nil
	}
}

// communityID is osquery's community_id_v1 (https://github.com/corelight/community-id-spec): errors are NULL
// unless strict.
func communityID(strict bool) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		v, err := communityIDv1(args)
		if err != nil && !strict {
			return nil, nil
		}
		return v, err
	}
}

func communityIDv1(args []driver.Value) (driver.Value, error) {
	if len(args) != 5 && len(args) != 6 {
		return nil, errors.New("wrong number of arguments to function community_id_v1()")
	}
	var seed uint16
	if len(args) == 6 {
		s, ok := args[5].(int64)
		if !ok {
			return nil, sqlError("Community ID seed must be an integer")
		}
		if s < math.MinInt16 || s > math.MaxInt16 {
			return nil, sqlError("Community ID seed must fit in 2 bytes")
		}
		seed = uint16(int16(s))
	}
	ss, ok1 := args[0].(string)
	ds, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, sqlError("Community ID IPs must be strings")
	}
	saddr, err := netip.ParseAddr(ss)
	if err != nil || saddr.Zone() != "" {
		return nil, sqlError("Community ID saddr cannot be parsed as IP")
	}
	daddr, err := netip.ParseAddr(ds)
	if err != nil || daddr.Zone() != "" {
		return nil, sqlError("Community ID daddr cannot be parsed as IP")
	}
	sp, ok1 := args[2].(int64)
	dp, ok2 := args[3].(int64)
	if !ok1 || !ok2 {
		return nil, sqlError("Community ID ports must be integers")
	}
	if sp < 0 || sp > math.MaxUint16 || dp < 0 || dp > math.MaxUint16 {
		return nil, sqlError("Community ID ports must fit in 2 bytes")
	}
	proto, ok := args[4].(int64)
	if !ok {
		return nil, sqlError("Community ID protocol must be an integer")
	}
	if proto < 0 || proto > math.MaxUint8 {
		return nil, sqlError("Community ID protocol must fit in 1 byte")
	}
	// boost::asio::ip::address orders IPv4 before IPv6, then by value.
	less := func(a, b netip.Addr) bool {
		if a.Is4() != b.Is4() {
			return a.Is4()
		}
		return a.Less(b)
	}
	if !(less(saddr, daddr) || (saddr == daddr && sp < dp)) {
		saddr, daddr = daddr, saddr
		sp, dp = dp, sp
	}
	var b bytes.Buffer
	b.Write(binary.BigEndian.AppendUint16(nil, seed))
	b.Write(saddr.AsSlice())
	b.Write(daddr.AsSlice())
	b.WriteByte(byte(proto))
	b.WriteByte(0)
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(sp)))
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(dp)))
	sum := sha1.Sum(b.Bytes())
	return "1:" + base64.StdEncoding.EncodeToString(sum[:]), nil
}

// isPrintable is osquery's isPrintable: bytes 0x20 to 0x7E only.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x7f || s[i] <= 0x1f {
			return false
		}
	}
	return true
}

func base64Func(conditional bool) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		s, ok := text(args[0])
		if !ok {
			return nil, nil
		}
		if conditional && isPrintable(s) {
			return s, nil
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	}
}

// sqlFromBase64 decodes like osquery's base64::decode, which drops the padding and returns "" for input it
// cannot decode.
func sqlFromBase64(args []driver.Value) (driver.Value, error) {
	s, ok := text(args[0])
	if !ok {
		return nil, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", nil
	}
	return string(b), nil
}

func sqlInCIDRBlock(args []driver.Value) (driver.Value, error) {
	cidr, ok := args[0].(string)
	if !ok {
		return nil, sqlError("CIDR must be a string")
	}
	ip, ok := args[1].(string)
	if !ok {
		return nil, sqlError("IP address must be a string")
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return nil, sqlError("IP address cannot be parsed")
	}
	family := "v6"
	if addr.Is4() {
		family = "v4"
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || prefix.Addr().Is4() != addr.Is4() {
		return nil, sqlError(fmt.Sprintf("CIDR for IP address %s cannot be parsed", family))
	}
	prefix = prefix.Masked()
	if !prefix.Contains(addr) {
		return int64(0), nil
	}
	// boost's network_v4::hosts() leaves out the network and broadcast addresses below /31.
	if addr.Is4() && prefix.Bits() < 31 {
		network := prefix.Addr()
		b := network.As4()
		bcast := binary.BigEndian.Uint32(b[:]) | (1<<(32-prefix.Bits()) - 1)
		a := addr.As4()
		if addr == network || binary.BigEndian.Uint32(a[:]) == bcast {
			return int64(0), nil
		}
	}
	return int64(1), nil
}

func separator(platform string) byte {
	if platform == "windows" {
		return '\\'
	}
	return '/'
}

func parentDirectory(platform string) func([]driver.Value) (driver.Value, error) {
	sep := separator(platform)
	return func(args []driver.Value) (driver.Value, error) {
		s, ok := args[0].(string)
		if !ok {
			return nil, sqlError("Invalid inputs to parent_directory, TEXT was expected")
		}
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		i := strings.LastIndexByte(s, sep)
		if i < 0 {
			return nil, nil
		}
		return s[:i], nil
	}
}

// programPath is osquery's findExistingProgramPathFromCommand: the shortest (or longest) prefix of the command
// line, cut at unquoted white space, that names an existing file that is not a directory. The harness answers
// existence from the machine it runs on, as osquery does from the host.
func programPath(args []driver.Value, platform string, shortest bool) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	for _, a := range args {
		if a == nil {
			return "", false
		}
	}
	cmd, _ := text(args[0])
	quoting := len(args) > 1 && intValue(args[1]) != 0
	escape := byte('\\')
	if platform == "windows" {
		escape = '^'
	}
	if len(args) > 2 {
		e, _ := text(args[2])
		if len(e) != 1 {
			return "", false
		}
		escape = e[0]
	}
	isFile := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}
	isSpace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	pos := 0
	for pos < len(cmd) && isSpace(cmd[pos]) {
		pos++
	}
	var result, temp []byte
	quoted, escaped := false, false
	for ; pos < len(cmd); pos++ {
		c := cmd[pos]
		if escaped {
			temp = append(temp, c)
			escaped = false
			continue
		}
		if quoting && c == '"' {
			quoted = !quoted
			continue
		}
		if c == escape {
			escaped = true
			continue
		}
		if !quoted && isSpace(c) && isFile(string(temp)) {
			result = append(result[:0], temp...)
			if shortest {
				break
			}
		}
		temp = append(temp, c)
	}
	if (len(result) == 0 || !shortest) && isFile(string(temp)) {
		result = append(result[:0], temp...)
	}
	return string(result), true
}

func findFilePathInCmd(platform string) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		p, ok := programPath(args, platform, true)
		if !ok {
			return nil, sqlError("Invalid inputs to find_binary_path_from_cmd")
		}
		return p, nil
	}
}

func isPathDeterministic(platform string) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		short, ok := programPath(args, platform, true)
		if !ok {
			return nil, sqlError("Invalid inputs to is_path_deterministic")
		}
		cmd, _ := text(args[0])
		if short == "" || len(short) == len(cmd) {
			return int64(1), nil
		}
		long, _ := programPath(args, platform, false)
		if len(short) == len(long) {
			return int64(1), nil
		}
		return int64(0), nil
	}
}

// mathFunc is osquery's callDoubleFunc: NULL stays NULL, a domain error is an SQL error as errno would be.
func mathFunc(f func(float64) float64) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		if args[0] == nil {
			return nil, nil
		}
		x := floatValue(args[0])
		v := f(x)
		if math.IsNaN(v) && !math.IsNaN(x) {
			return nil, sqlError("Numerical argument out of domain")
		}
		if math.IsInf(v, 0) && !math.IsInf(x, 0) {
			return nil, sqlError("Numerical result out of range")
		}
		return v, nil
	}
}

func sqlPower(args []driver.Value) (driver.Value, error) {
	if args[0] == nil || args[1] == nil {
		return nil, nil
	}
	return mathFunc(func(x float64) float64 { return math.Pow(x, floatValue(args[1])) })(args[:1])
}

// castedFunc is osquery's callCastedDoubleFunc (ceil, floor): integers pass through, reals become integers.
func castedFunc(f func(float64) float64) func([]driver.Value) (driver.Value, error) {
	return func(args []driver.Value) (driver.Value, error) {
		switch x := args[0].(type) {
		case nil:
			return nil, nil
		case int64:
			return x, nil
		}
		return int64(f(floatValue(args[0]))), nil
	}
}
