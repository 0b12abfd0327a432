package saferead

import "testing"

func TestWindowsPathRefusal(t *testing.T) {
	tests := []struct{ path, want string }{
		{`C:\Users\IEUser\AppData\Local\Temp\0xqpayvt.cmdline`, ""},
		{`c:/Users/u/AppData/Local/Temp/x.rsp`, ""},
		{`C:\Program Files\app\build.rsp`, ""},
		{`\\attacker\share\x.rsp`, ReasonRemote},
		{`//attacker/share/x.rsp`, ReasonRemote},
		{`\\10.0.0.5@SSL@443\DavWWWRoot\x.rsp`, ReasonRemote},
		{`\\?\UNC\attacker\share\x.rsp`, ReasonRemote},
		{`\\?\unc\attacker\share\x.rsp`, ReasonRemote},
		{`\\?\C:\Windows\Temp\x.rsp`, ReasonDevice},
		{`\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\x.rsp`, ReasonDevice},
		{`\\.\pipe\x.rsp`, ReasonDevice},
		{`\\.\C:\x.rsp`, ReasonDevice},
		{`\??\C:\x.rsp`, ReasonDevice},
		{`C:\Temp\NUL.rsp`, ReasonDevice},
		{`C:\Temp\con.cmdline`, ReasonDevice},
		{`C:\Temp\COM1 .rsp`, ReasonDevice},
		{`C:\Temp\lpt9.x.rsp`, ReasonDevice},
		{`C:\Temp\x.rsp:evil`, ReasonStream},
		{`C:\Temp\x.rsp::$DATA`, ReasonStream},
		{`C:\Temp\..\..\x.rsp`, ReasonRelative},
		{`C:x.rsp`, ReasonRelative},
		{`\Temp\x.rsp`, ReasonRelative},
		{`x.rsp`, ReasonRelative},
		{"", ReasonRelative},
		{"C:\\x\x00.rsp", ReasonRelative},
		{`C:\Temp\console.rsp`, ""},
		{`C:\Temp\nul-ish.rsp`, ""},
	}
	for _, tt := range tests {
		if got := WindowsPathRefusal(tt.path); got != tt.want {
			t.Errorf("WindowsPathRefusal(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestPosixPathRefusal(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/tmp/build/args.rsp", ""},
		{"/home/dev/src/a.rsp", ""},
		{"/dev/zero", ReasonDevice},
		{"/dev/shm/x.rsp", ""},
		{"/dev/shm/../zero", ReasonDevice},
		{"/proc/self/fd/0", ReasonDevice},
		{"/sys/kernel/x.rsp", ReasonDevice},
		{"/tmp/../proc/kmsg", ReasonDevice},
		{"//dev/zero", ReasonDevice},
		{"/devices.rsp", ""},
		{"a.rsp", ReasonRelative},
		{"", ReasonRelative},
		{"/tmp/x\x00.rsp", ReasonRelative},
	}
	for _, tt := range tests {
		if got := PosixPathRefusal(tt.path); got != tt.want {
			t.Errorf("PosixPathRefusal(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
