package replay

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The expected values are those of osquery's own tests at 5.23.1: osquery/sql/tests/sql.cpp,
// sqlite_hashing_tests.cpp and sqlite_network_tests.cpp.
func TestOsquerySQLFunctions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := Start(ctx, Options{Fixtures: newFixtures(), Platform: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cases := []struct {
		expr string
		want string // "" with wantErr = the error text
		err  string
	}{
		{expr: "to_base64('test')", want: "dGVzdA=="},
		{expr: "from_base64('dGVzdA==')", want: "test"},
		{expr: "conditional_to_base64('test')", want: "test"},
		{expr: "conditional_to_base64('悪因悪果')", want: "5oKq5Zug5oKq5p6c"},
		{expr: "md5('test')", want: "098f6bcd4621d373cade4e832627b4f6"},
		{expr: "sha1('test')", want: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
		{expr: "sha256('test')", want: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{expr: "regex_match('hello world', '(l)(o).*', 0)", want: "lo world"},
		{expr: "regex_match('hello world', '(l)(o).*', 1)", want: "l"},
		{expr: "regex_match('hello world', '(l)(o).*', 2)", want: "o"},
		{expr: "regex_match('hello world', '(l)(o).*', 3)", want: ""},
		{expr: "regex_match('hello world', '(\\w+) .*(or|ld)', 0)", want: "hello world"},
		{expr: "regex_match('hello world', '(\\w+) .*(or|ld)', 1)", want: "hello"},
		{expr: "regex_match('hello world', '(\\w+) .*(or|ld)', 2)", want: "ld"},
		{expr: "regex_match('/filesystem/path/download.extension.zip', '.+/([^./]+)', 1)", want: "download"},
		{expr: "regex_match('hello world', '', 0)", want: ""},
		{expr: "regex_match('foo/bar', '(/', 0)", err: "Invalid regex"},
		{expr: "regex_match('foo/bar', '|', 0)", want: ""},
		{expr: "regex_match('foo/bar', '" + strings.Repeat("|", 100000) + "', 0)", err: "Invalid regex: too big"},
		{expr: "split('/foo/bar', '/', 0)", want: "foo"},
		{expr: "split('/foo/bar', '/', 1)", want: "bar"},
		{expr: "split('/foo/bar', '/', 2)", want: ""},
		{expr: "split('foo;;bar', ';;', 0)", want: "foo"},
		{expr: "split('foo;;bar', ';;', 1)", want: "bar"},
		{expr: "split('foo;;bar', ';;', 2)", want: ""},
		{expr: "split('foo;;bar', '', 0)", err: "Invalid input to split function"},
		{expr: "regex_split('/foo/bar', '/', 0)", want: ""},
		{expr: "regex_split('/foo/bar', '/', 1)", want: "foo"},
		{expr: "regex_split('/foo/bar', '/', 2)", want: "bar"},
		{expr: "regex_split('/foo/bar', '/', 3)", want: ""},
		{expr: "regex_split('foo;;bar', ';;', 1)", want: "bar"},
		{expr: "regex_split('foo;bar//qux', '(;|/)+', 0)", want: "foo"},
		{expr: "regex_split('foo;bar//qux', '(;|/)+', 1)", want: "bar"},
		{expr: "regex_split('foo;bar//qux', '(;|/)+', 2)", want: "qux"},
		{expr: "regex_split('foo;bar//qux', '(;|/)+', 3)", want: ""},
		{expr: "regex_split('/filesystem/path/download.extension.zip', '(.*/)|(.extension.zip)', 1)", want: "download"},
		{expr: "regex_split('foo/bar', '', 0)", err: "Invalid input to split function"},
		{expr: "regex_split('foo/bar', '(/', 0)", err: "Invalid regex"},
		{expr: "regex_split('foo/bar', '|', 0)", want: ""},
		{expr: "concat()", want: ""},
		{expr: "concat('hello')", want: "hello"},
		{expr: "concat('hello', NULL, 'world')", want: "helloworld"},
		{expr: "concat(1, 2, 3, 'go')", want: "123go"},
		{expr: "concat_ws('')", want: ""},
		{expr: "concat_ws(NULL)", want: ""},
		{expr: "concat_ws(', ', 'hello', 'world', 1, 2, 3)", want: "hello, world, 1, 2, 3"},
		{expr: "concat_ws(NULL, 'hello', 'world', 1, 2, 3)", want: "helloworld123"},
		{expr: "concat_ws(' ', 'hello', NULL, 'world')", want: "hello world"},
		{expr: "concat_ws('x', 'hello')", want: "hello"},
		{expr: "concat_ws('x', '', '')", want: "x"},
		{expr: "concat_ws()", err: "Missing separator to concat_ws"},
		{expr: "version_compare('1.0', '1.0')", want: "0"},
		{expr: "version_compare('1:2.0-10', '1:2.0-10', 'DPKG')", want: "0"},
		{expr: "version_compare('4:1.1.0', '4:1.1.0-3', 'arCH')", want: "0"},
		{expr: "version_compare('50.4.1b', '50.4.1c')", want: "-1"},
		{expr: "version_compare('1.0.8-4', '1.0.8-6', 'arch')", want: "-1"},
		{expr: "version_compare('1.0.0~rc2^2021', '1.0.0', 'RHEL')", want: "-1"},
		{expr: "version_compare('1.1.0~BETA2^1', '1.1.0~CR1', 'RhEl')", want: "-1"},
		{expr: "version_compare('1.0.1.1', '1.0.1^2021', 'rhel')", want: "1"},
		{expr: "version_compare('1.9.9-1ubuntu2.4', '1.9.9-1ubuntu2.3', 'dpkg')", want: "1"},
		{expr: "version_compare('1:1.2.13-2', '4.2.1', 'ARCH')", want: "1"},
		{expr: "version_compare('106.32.1', '106:32.1')", want: "0"},
		{expr: "'1:0.0' = '1.0.0' collate version", want: "1"},
		{expr: "'2.50^1a' = '2.50~1a' collate version", want: "1"},
		{expr: "'1.0.0-2' < '1:0.0.3' collate version", want: "1"},
		{expr: "'1.12.1' < '1.13' collate version", want: "1"},
		{expr: "'20.10a' > '20.102' collate version", want: "1"},
		{expr: "'57:4' > '6.87.5' collate version", want: "1"},
		{expr: "'8.11' > '8.10.24' collate version", want: "1"},
		{expr: "'1.0' = '1.0-4' collate version_arch", want: "1"},
		{expr: "'41.1-2' < '43alpha+r8+g1de47dbc-1' collate version_arch", want: "1"},
		{expr: "'1:1.2.13-2' > '4.2.1' collate version_arch", want: "1"},
		{expr: "'2.5.13+dfsg-0ubuntu0.22.04.1' < '2.5.14+dfsg-0ubuntu0.22.04.2' collate version_dpkg", want: "1"},
		{expr: "'2:8.2.3995-1ubuntu2.9' > '2:8.2.3995-1ubuntu2.3' collate version_dpkg", want: "1"},
		{expr: "'1.0.1^2021' < '1.0.1.security1' collate version_rhel", want: "1"},
		{expr: "'9.11.4-26.P2.el7_9.10' < '32:9.11.4-26.P2.el7_9.13' collate version_rhel", want: "1"},
		{expr: "community_id_v1('66.35.250.204', '128.232.110.120', 80, 34855, 6, 0)", want: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{expr: "community_id_v1('128.232.110.120', '66.35.250.204', 34855, 80, 6)", want: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{expr: "community_id_v1('66.35.250.204', '128.232.110.120', 80, 34855, 6, 1)", want: "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
		{expr: "community_id_v1('127.0.0.1', 'fe80::14b0:de4a:f8e8:522f', 64, 10, 6)", want: "1:Jww+Ua4pSUNl9TvSUwvSHL4n93w="},
		{expr: "community_id_v1('fe80::14b0:de4a:f8e8:522f', '127.0.0.1', 10, 64, 6, 0)", want: "1:Jww+Ua4pSUNl9TvSUwvSHL4n93w="},
		{expr: "community_id_v1('192.168.170.8', '192.168.170.56', 7, 80, 132, 0)", want: "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ="},
		{expr: "community_id_v1('192.168.170.56', '192.168.170.8', 80, 7, 132, 1)", want: "1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU="},
		{expr: "community_id_v1('192.168.1.52', '8.8.8.8', 54585, 53, 17, 0)", want: "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{expr: "community_id_v1('8.8.8.8', '192.168.1.52', 53, 54585, 17, 1)", want: "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
		{expr: "community_id_v1_strict('192.168.1.52', 'foo', 10, 53, 17, 0)", err: "Community ID daddr cannot be parsed as IP"},
		{expr: "community_id_v1_strict('192.168.1.52', '192.168.1.1', 10, 53, 17, 100000000)", err: "Community ID seed must fit in 2 bytes"},
		{expr: "community_id_v1('192.168.1.52', 'foo', 10, 53, 17, 0)", want: ""},
		{expr: "in_cidr_block('10.0.0.0/26', '10.0.0.24')", want: "1"},
		{expr: "in_cidr_block('198.51.100.14/24', '198.51.100.14')", want: "1"},
		{expr: "in_cidr_block('2a00:a040:019e:f12a:0000:0000:0000:0000/64', '2a00:a040:19e:f12a:658b:3589:b2ba:71a3')", want: "1"},
		{expr: "in_cidr_block('2001:db8::/48', '2001:db8:0:ffff:ffff:ffff:ffff:ffff')", want: "1"},
		{expr: "in_cidr_block('10.0.0.0/26', '10.0.0.64')", want: "0"},
		{expr: "in_cidr_block('10.0.0.0/26', 'nope')", err: "IP address cannot be parsed"},
		{expr: "inet_aton('192.168.1.1')", want: "3232235777"},
		{expr: "inet_aton('::1')", want: ""},
		{expr: "parent_directory('/usr/bin/gcc')", want: "/usr/bin"},
		{expr: "parent_directory('gcc')", want: ""},
		{expr: "parent_directory(1)", err: "Invalid inputs to parent_directory, TEXT was expected"},
		{expr: "find_file_path_in_cmd('/proc/self/exe --flag')", want: "/proc/self/exe"},
		{expr: "is_path_deterministic('/proc/self/exe --flag')", want: "1"},
		{expr: "ceil(1.2)", want: "2"},
		{expr: "floor(-1.5)", want: "-2"},
		{expr: "ceil(7)", want: "7"},
		{expr: "power(2, 10)", want: "1024"},
		{expr: "sqrt(16)", want: "4"},
		{expr: "degrees(pi())", want: "180"},
		{expr: "sqrt(-1)", err: "Numerical argument out of domain"},
		{expr: "sqrt(NULL)", want: ""},
	}
	for _, c := range cases {
		name := c.expr
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			rows, err := h.Query(ctx, "SELECT "+c.expr+" AS v")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q (rows %v)", err, c.err, rows)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0]["v"] != c.want {
				t.Fatalf("got %v, want %q", rows, c.want)
			}
		})
	}
}
