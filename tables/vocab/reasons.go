package vocab

// Reason codes of the reasons column (README, "Reason codes"). The correlator's policy gives
// each of them points and its explanations use Words.
const (
	ReasonParentElasticList       = "parent_elastic_list"
	ReasonParentOffice            = "parent_office"
	ReasonParentWebServer         = "parent_web_server"
	ReasonParentEncodedPowerShell = "parent_encoded_powershell"
	ReasonParentRemoteAdmin       = "parent_remote_admin"
	ReasonUserSpaceParentNonDev   = "user_space_parent_non_dev"
	ReasonTempOutput              = "temp_output"
	ReasonTempSource              = "temp_source"
	ReasonCmdlineTempfile         = "cmdline_tempfile"
	ReasonRenamedCompiler         = "renamed_compiler"
	ReasonUnusualCompilerPath     = "unusual_compiler_path"
	ReasonSingleArgument          = "single_argument"
	ReasonMSBuildInlineProject    = "msbuild_inline_project"
	ReasonNetworkToolAncestry     = "network_tool_ancestry"
	ReasonCompilerNetwork         = "compiler_network"
	ReasonNotACompile             = "not_a_compile"
)

// Reason is one reason code: Words is the plain sentence an alert shows, When says when the
// table sets it, and Anchor names the public detection it follows (empty when it is ours).
type Reason struct {
	Code   string
	Words  string
	When   string
	Anchor string
}

var reasons = []Reason{
	{ReasonParentElasticList, "compiler started by a parent on Elastic's suspicious .NET compiler parent list",
		"csc or vbc whose parent is wscript, mshta, cscript, wmic, svchost, rundll32, cmstp or regsvr32",
		`Elastic "Suspicious .NET Code Compilation"`},
	{ReasonParentOffice, "compiler started by an Office application",
		"the parent, or the first ancestor above up to three shells, is an Office application",
		`Elastic "MSBuild Started by an Office Application", Sigma`},
	{ReasonParentWebServer, "compiler started by a web server process",
		"the parent, or the first ancestor above up to three shells, is a web or application server",
		`Elastic "Suspicious Web Server Child Process", ASP.NET webshells`},
	{ReasonParentEncodedPowerShell, "compiler started by PowerShell with an encoded command",
		"the parent is PowerShell with -enc, FromBase64String, IEX, DownloadString, Net.WebClient, Reflection.Assembly ...",
		`Elastic Endpoint "Managed .NET Code Execution via PowerShell", Sigma`},
	{ReasonParentRemoteAdmin, "compiler started by a remote administration host process",
		"a WMI, WinRM or PsExec host within three generations",
		`Elastic "MSBuild Started by a System Process"`},
	{ReasonUserSpaceParentNonDev, "user-space parent that is not a development tool (MITRE AN1381)",
		"a Windows compiler whose parent is a script host, Office, LOLBin, shell, remote-admin or unknown program, with no IDE or build system in its ancestry",
		"MITRE AN1381"},
	{ReasonTempOutput, "output written to a temporary or public folder",
		"the artifact is in a temp or user-writable folder (Go's go-build* cache excluded)",
		"MITRE AN1381/AN1382, Sigma"},
	{ReasonTempSource, "source read from a temporary folder",
		"a source, project or response file is in a temp or user-writable folder",
		`Sigma "Dynamic .NET Compilation Via Csc.EXE"`},
	{ReasonCmdlineTempfile, "command line references a temporary file",
		"compile through a .cmdline response file (CodeDom: Add-Type, MSBuild inline tasks)",
		`Sigma hunting, Splunk "CSC Net On The Fly Compilation"`},
	{ReasonRenamedCompiler, "compiler binary renamed (original name differs)",
		"the PE original name is a compiler and the image name is not",
		`Elastic "MSBuild Using an Alternate Name", Splunk`},
	{ReasonUnusualCompilerPath, "compiler started from an unusual path",
		"a Windows compiler outside Windows\\Microsoft.NET\\Framework*, Visual Studio, the .NET SDK or Program Files",
		`Splunk "Suspicious msbuild path"`},
	{ReasonSingleArgument, "compiler given a single argument",
		"a .NET tool started with at most one argument and no source: the hollowing / masquerade pattern",
		"Elastic Endpoint"},
	{ReasonMSBuildInlineProject, "MSBuild project with an inline task",
		"MSBuild building a file that is not a *proj, .sln or .targets",
		`Elastic Endpoint "MSBuild with Unusual Arguments"`},
	{ReasonNetworkToolAncestry, "network tool in the ancestry",
		"nc, ncat, socat, telnet in the ancestry (reverse shell)", ""},
	{ReasonCompilerNetwork, "the compiler itself connected out",
		"the compiler or its helpers connected out themselves",
		`Elastic "MsBuild Making Network Connections"`},
	{ReasonNotACompile, "process named like a compiler but not compiling",
		"the arguments show it is not a compile, or a csc/vbc/jsc start with no source, output, helper or write", ""},
}

// Reasons returns every reason code the table can set, in README order.
func Reasons() []Reason { return append([]Reason(nil), reasons...) }

// ReasonCodes returns the codes of Reasons.
func ReasonCodes() []string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = r.Code
	}
	return out
}

// ReasonWords returns the plain words of a reason code, and false for a code the table
// does not set.
func ReasonWords(code string) (string, bool) {
	for _, r := range reasons {
		if r.Code == code {
			return r.Words, true
		}
	}
	return "", false
}
