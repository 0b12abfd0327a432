package packs

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Role labels and policies come from the same kind of source files as the scheduled queries: one .sql per
// label under labels/ and one per policy under policies/, each with a "-- key: value" header.
//
// Label header (labels/<role>_<windows|linux|macos>.sql):
//
//	-- role: build_server
//	-- platform: windows
//	-- description: What the label means.
//	-- evidence: What the query looks at, with the source of each name it matches.
//	-- false_positives: Hosts it can put here wrongly.
//	-- tuning: How to adapt it.
//
// The SQL of a label file is its evidence query: it returns a row when the host shows the role's evidence.
// The Fleet label query is composed from it (see LabelQuery) so that a host lands in exactly one role label.
//
// Policy header (policies/<id>.sql):
//
//	-- name: Compile-lineage telemetry ready
//	-- description: ...
//	-- resolution: ... ({telemetry_flags} is replaced by the flags of compile_telemetry's sources)
//	-- platform: windows,linux,darwin
//	-- critical: yes|no
//	-- requires_extension: yes|no
//	-- roles: user_endpoint          (optional: the policy targets these roles' labels)
//
// A policy's SQL passes (Fleet shows "yes") when it returns at least one row.

//go:embed labels/*.sql policies/*.sql
var roleFiles embed.FS

// Roles are the correlator's role names that the labels infer, in the order a host is placed: a host
// gets the first role whose evidence it shows, so it lands in exactly one role label of its platform.
var Roles = []string{"domain_controller", "build_server", "server", "developer_workstation", "user_endpoint"}

// labelSuffix is the platform word at the end of a role label's name.
var labelSuffix = map[string]string{"windows": "windows", "linux": "linux", "darwin": "macos"}

// LabelName is the Fleet label name of a role on a platform, for example build_server_windows. The
// correlator maps a label named <role> or <role>_<windows|linux|macos> to the role.
func LabelName(role, platform string) string { return role + "_" + labelSuffix[platform] }

// Label is one dynamic Fleet label that puts hosts of one platform into one role.
type Label struct {
	File           string // file name under labels/
	Name           string // Fleet label name, LabelName(Role, Platform)
	Role           string
	Platform       string // osquery platform: windows, linux or darwin
	Description    string
	Evidence       string
	FalsePositives string
	Tuning         string
	SQL            string // the evidence query, ending in ";"
}

// FleetPlatform is the label's Fleet platform filter. Fleet compares a label's platform with the host's
// platform exactly, and Linux hosts carry their distribution (ubuntu, debian, rhel, ...), so Linux labels
// have no platform filter: their queries use only tables every osquery has and check os_version first.
func (l Label) FleetPlatform() string {
	if l.Platform == "linux" {
		return ""
	}
	return l.Platform
}

// Policy is one Fleet policy: a yes/no check per host.
type Policy struct {
	File              string // file name under policies/
	Name              string
	Description       string
	Resolution        string // with {telemetry_flags} already expanded
	Platforms         []string
	Critical          bool
	RequiresExtension bool
	Roles             []string // the policy targets the labels of these roles
	SQL               string
}

// Platform is the comma-separated platform list Fleet takes.
func (p Policy) Platform() string { return strings.Join(p.Platforms, ",") }

// LabelsIncludeAny lists the role labels a policy targets: the labels of its roles on its platforms.
func (p Policy) LabelsIncludeAny() []string {
	var out []string
	for _, r := range p.Roles {
		for _, pl := range p.Platforms {
			out = append(out, LabelName(r, pl))
		}
	}
	return out
}

// EmbeddedLabels returns the role labels compiled into this package, in role order then platform order.
func EmbeddedLabels() ([]Label, error) { return LoadLabels(roleFiles) }

// EmbeddedPolicies returns the policies compiled into this package, sorted by file name.
func EmbeddedPolicies() ([]Policy, error) { return LoadPolicies(roleFiles, TelemetryFlagsText()) }

// LoadLabels reads every labels/*.sql file of fsys, in role order then platform order.
func LoadLabels(fsys fs.FS) ([]Label, error) {
	ls, err := loadDir(fsys, "labels", "label", ParseLabel, func(l Label) string { return l.Name })
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ls, func(a, b Label) int {
		if c := slices.Index(Roles, a.Role) - slices.Index(Roles, b.Role); c != 0 {
			return c
		}
		return slices.Index(Platforms, a.Platform) - slices.Index(Platforms, b.Platform)
	})
	return ls, nil
}

var labelKeys = []string{"role", "platform", "description", "evidence", "false_positives", "tuning"}

// ParseLabel parses one label file; file is its base name and must be "<role>_<platform word>.sql".
func ParseLabel(file string, src []byte) (Label, error) {
	h, err := readHeader(file, src)
	if err != nil {
		return Label{}, err
	}
	if err := h.only(labelKeys, labelKeys); err != nil {
		return Label{}, err
	}
	l := Label{File: file, Role: h.vals["role"], Platform: h.vals["platform"], Description: h.vals["description"],
		Evidence: h.vals["evidence"], FalsePositives: h.vals["false_positives"], Tuning: h.vals["tuning"]}
	if !slices.Contains(Roles, l.Role) {
		return l, h.errAt("role", "%q is not one of %s", l.Role, strings.Join(Roles, ", "))
	}
	if !slices.Contains(Platforms, l.Platform) {
		return l, h.errAt("platform", "%q is not one of %s (one platform per label)", l.Platform, strings.Join(Platforms, ", "))
	}
	l.Name = LabelName(l.Role, l.Platform)
	if file != l.Name+".sql" {
		return l, fmt.Errorf("%s: a %s label for %s must be in %s.sql", file, l.Role, l.Platform, l.Name)
	}
	if l.SQL, err = h.sql(); err != nil {
		return l, err
	}
	return l, nil
}

var (
	policyKeys         = []string{"name", "description", "resolution", "platform", "critical", "requires_extension", "roles"}
	policyRequiredKeys = []string{"name", "description", "resolution", "platform", "critical", "requires_extension"}
)

// TelemetryFlagsPlaceholder in a policy's resolution is replaced by the text of TelemetryFlagsText.
const TelemetryFlagsPlaceholder = "{telemetry_flags}"

// LoadPolicies reads every policies/*.sql file of fsys, sorted by file name; flags replaces
// TelemetryFlagsPlaceholder in resolutions.
func LoadPolicies(fsys fs.FS, flags string) ([]Policy, error) {
	parse := func(file string, src []byte) (Policy, error) { return ParsePolicy(file, src, flags) }
	return loadDir(fsys, "policies", "policy", parse, func(p Policy) string { return p.Name })
}

// ParsePolicy parses one policy file; file is its base name.
func ParsePolicy(file string, src []byte, flags string) (Policy, error) {
	h, err := readHeader(file, src)
	if err != nil {
		return Policy{}, err
	}
	if err := h.only(policyKeys, policyRequiredKeys); err != nil {
		return Policy{}, err
	}
	p := Policy{File: file, Name: h.vals["name"], Description: h.vals["description"],
		Resolution: strings.ReplaceAll(h.vals["resolution"], TelemetryFlagsPlaceholder, flags)}
	if !nameRe.MatchString(strings.TrimSuffix(file, ".sql")) || !strings.HasSuffix(file, ".sql") {
		return p, fmt.Errorf("%s: a policy file is named <lower_snake_case>.sql", file)
	}
	for _, k := range []string{"name", "description", "resolution"} {
		if h.vals[k] == "" {
			return p, h.errAt(k, "empty")
		}
	}
	if p.Platforms, err = h.platforms("platform"); err != nil {
		return p, err
	}
	if p.Critical, err = h.yesNo("critical"); err != nil {
		return p, err
	}
	if p.RequiresExtension, err = h.yesNo("requires_extension"); err != nil {
		return p, err
	}
	if v, ok := h.vals["roles"]; ok {
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(Roles, r) {
				return p, h.errAt("roles", "%q is not one of %s", r, strings.Join(Roles, ", "))
			}
			p.Roles = append(p.Roles, r)
		}
	}
	if p.SQL, err = h.sql(); err != nil {
		return p, err
	}
	usesExt := strings.Contains(p.SQL, "compile_lineage") || strings.Contains(p.SQL, "compile_telemetry")
	if usesExt != p.RequiresExtension {
		return p, h.errAt("requires_extension", "the SQL uses the extension's tables = %v", usesExt)
	}
	return p, nil
}

// only checks that the header has every required key and no key outside allowed.
func (h header) only(allowed, required []string) error {
	for _, k := range required {
		if _, ok := h.vals[k]; !ok {
			return fmt.Errorf("%s: header key %q missing", h.file, k)
		}
	}
	for _, k := range h.order {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("%s:%d: unknown header key %q", h.file, h.lineOf[k], k)
		}
	}
	return nil
}

// platforms parses a comma-separated platform list.
func (h header) platforms(key string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(h.vals[key], ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(Platforms, p) {
			return nil, h.errAt(key, "%q is not one of %s", p, strings.Join(Platforms, ", "))
		}
		if slices.Contains(out, p) {
			return nil, h.errAt(key, "%q listed twice", p)
		}
		out = append(out, p)
	}
	return out, nil
}

func (h header) yesNo(key string) (bool, error) {
	switch h.vals[key] {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, h.errAt(key, "%q is not yes or no", h.vals[key])
}

// linuxGuard keeps a Linux label (which Fleet sends to every host) from matching Windows and macOS hosts.
const linuxGuard = "SELECT 1 FROM os_version WHERE platform NOT IN ('windows', 'darwin')"

// LabelQuery composes the Fleet query of a label: the host shows the label's evidence and not the
// evidence of any role placed before it on the same platform (Roles order), so every host lands in one
// role label at most. all holds every label (of every platform).
func LabelQuery(l Label, all []Label) string {
	var b strings.Builder
	b.WriteString("SELECT 1 WHERE ")
	if l.Platform == "linux" {
		b.WriteString("EXISTS (" + linuxGuard + ")\nAND ")
	}
	b.WriteString("EXISTS (\n" + indent(strings.TrimSuffix(l.SQL, ";")) + "\n)")
	for _, o := range all {
		if o.Platform != l.Platform || slices.Index(Roles, o.Role) >= slices.Index(Roles, l.Role) {
			continue
		}
		b.WriteString("\nAND NOT EXISTS (\n" + indent(strings.TrimSuffix(o.SQL, ";")) + "\n)")
	}
	b.WriteString(";")
	return b.String()
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}
