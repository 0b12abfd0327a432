Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Shared helpers for the provisioning, scenario and assertion scripts. Dot-source it:
#   . 'C:\lineage\vm\lib\common.ps1'
# Keep this file ASCII-only: Windows PowerShell 5.1 reads BOM-less non-ASCII scripts as ANSI.

$script:ClabRoot = 'C:\lineage'
$script:ClabVm = 'C:\lineage\vm'
$script:ClabWork = 'C:\clab'
$script:OsqueryHome = 'C:\Program Files\osquery'
$script:Osqueryi = 'C:\Program Files\osquery\osqueryi.exe'
$script:OsqueryPipe = '\\.\pipe\osquery.em'
$script:OsqueryResultsLog = 'C:\Program Files\osquery\log\osqueryd.results.log'
$script:ExtensionName = 'compile_lineage'
# A daemon other than the local MSI install (e.g. Fleet's Orbit) is reached by setting these two.
if ($env:CLAB_OSQUERYI) { $script:Osqueryi = $env:CLAB_OSQUERYI }
if ($env:CLAB_OSQUERY_PIPE) { $script:OsqueryPipe = $env:CLAB_OSQUERY_PIPE }
$script:Net4 = 'C:\Windows\Microsoft.NET\Framework64\v4.0.30319'

function Assert-ScriptSyntax {
    # Parses a script with the real PowerShell parser and throws on any error (file and line in the message).
    param([Parameter(Mandatory = $true)][string]$Path)
    if (-not $Path) { throw 'Assert-ScriptSyntax: empty path (run the script as a file, not through -Command)' }
    $tokens = $null
    $errors = $null
    [void][System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
    if ($errors -and $errors.Count -gt 0) {
        $lines = $errors | ForEach-Object { '{0}:{1}: {2}' -f $Path, $_.Extent.StartLineNumber, $_.Message }
        throw ('syntax errors: ' + ($lines -join '; '))
    }
}

function Write-Utf8NoBom {
    # osquery silently ignores extensions.load (and misreads flag files) written with a BOM or as UTF-16.
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][string]$Text)
    $enc = New-Object System.Text.UTF8Encoding($false)
    [System.IO.File]::WriteAllText($Path, $Text, $enc)
    $bytes = [System.IO.File]::ReadAllBytes($Path)
    if ($bytes.Length -ge 3 -and $bytes[0] -eq 0xEF -and $bytes[1] -eq 0xBB -and $bytes[2] -eq 0xBF) {
        throw "wrote a BOM into $Path"
    }
}

function Invoke-Native {
    # Runs a native program and returns its exit code, stdout lines and all output lines. Windows
    # PowerShell 5.1 turns native stderr into error records, which $ErrorActionPreference = 'Stop' (and
    # WinRM, which Vagrant provisions through) would raise as terminating errors: check ExitCode instead.
    param([Parameter(Mandatory = $true)][string]$FilePath, [string[]]$Arguments = @())
    $old = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $raw = @(& $FilePath @Arguments 2>&1)
        $code = $LASTEXITCODE
    } finally {
        $ErrorActionPreference = $old
    }
    $stdout = @($raw | Where-Object { $_ -is [string] })
    $all = @($raw | ForEach-Object { [string]$_ })
    return [pscustomobject]@{ ExitCode = $code; Stdout = $stdout; Output = $all }
}

function Invoke-Osquery {
    # Runs SQL inside the running osqueryd through its extension manager pipe and returns the rows.
    # A standalone osqueryi would see neither event tables nor extension tables.
    param([Parameter(Mandatory = $true)][string]$Sql)
    if (-not (Test-Path -LiteralPath $script:Osqueryi)) { throw "osqueryi not found at $($script:Osqueryi)" }
    $r = Invoke-Native -FilePath $script:Osqueryi -Arguments @('--connect', $script:OsqueryPipe, '--json', $Sql)
    if ($r.ExitCode -ne 0) {
        throw ('osqueryi --connect failed (exit {0}) for [{1}]: {2}' -f $r.ExitCode, $Sql, ($r.Output -join "`n"))
    }
    $text = $r.Stdout -join "`n"
    if (-not $text.Trim()) { return @() }
    # Windows PowerShell 5.1 ConvertFrom-Json emits a JSON array as one object: enumerate it.
    $rows = New-Object System.Collections.Generic.List[object]
    foreach ($row in (ConvertFrom-Json -InputObject $text)) { $rows.Add($row) }
    return , $rows.ToArray()
}

function Wait-Until {
    # Polls a condition with a deadline instead of fixed sleeps; throws with the description on timeout.
    param(
        [Parameter(Mandatory = $true)][scriptblock]$Condition,
        [Parameter(Mandatory = $true)][string]$Description,
        [int]$TimeoutSeconds = 60,
        [int]$IntervalMilliseconds = 1000
    )
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    $lastError = ''
    while ((Get-Date) -lt $deadline) {
        try {
            if (& $Condition) { return }
        } catch {
            $lastError = $_.Exception.Message
        }
        Start-Sleep -Milliseconds $IntervalMilliseconds
    }
    throw ('timed out after {0}s waiting for {1}. last error: {2}' -f $TimeoutSeconds, $Description, $lastError)
}

function Get-FileSha256 {
    param([Parameter(Mandatory = $true)][string]$Path)
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}

function Assert-PinnedHash {
    # Refuses a file whose sha256 is not the pinned one, saying how to move the pin (README: What is pinned).
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][string]$Expected,
        [Parameter(Mandatory = $true)][string]$PinnedIn)
    if ($Expected -notmatch '^[0-9A-Fa-f]{64}$') { throw ('{0}: the pin {1} is not a SHA-256' -f $PinnedIn, $Expected) }
    $actual = Get-FileSha256 -Path $Path
    if ($actual -ne $Expected.ToLowerInvariant()) {
        Remove-Item -LiteralPath $Path -Force
        throw (('sha256 mismatch for {0}: downloaded {1}, pinned {2}. Refusing it. If the publisher released a new ' +
            'version you want, check its signature, then set the pin in {3} to {1} (and the version next to it); ' +
            'or put the pinned file in windows-vm/cache/.') -f (Split-Path -Leaf $Path), $actual, $Expected.ToLowerInvariant(), $PinnedIn)
    }
}

function Get-PinnedDownload {
    # Returns the local path of a download: windows-vm/cache/<Name> when present (offline rebuilds),
    # else a previous download, else a fresh one from $Url; its sha256 is checked against $Sha256.
    param([Parameter(Mandatory = $true)][string]$Url, [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][string]$Sha256, [Parameter(Mandatory = $true)][string]$PinnedIn)
    [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
    $ProgressPreference = 'SilentlyContinue'
    $path = Join-Path $ClabWork "downloads\$Name"
    $cached = Join-Path $ClabVm "cache\$Name"
    if (Test-Path -LiteralPath $cached) {
        Copy-Item -LiteralPath $cached -Destination $path -Force
    } elseif (-not (Test-Path -LiteralPath $path)) {
        Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $path
    }
    Assert-PinnedHash -Path $path -Expected $Sha256 -PinnedIn $PinnedIn
    return $path
}

function Start-LoopbackListener {
    # Starts a TCP listener on 127.0.0.1 in a separate powershell.exe that accepts connections,
    # reads one line from each and appends it to $LogPath. Returns the process; stop it with Stop-Process.
    param([Parameter(Mandatory = $true)][int]$Port, [Parameter(Mandatory = $true)][string]$LogPath)
    $code = @'
$l = New-Object System.Net.Sockets.TcpListener([System.Net.IPAddress]::Loopback, __PORT__)
$l.Start()
while ($true) {
    $c = $l.AcceptTcpClient()
    $r = New-Object System.IO.StreamReader($c.GetStream())
    $line = $r.ReadLine()
    Add-Content -LiteralPath '__LOG__' -Value ((Get-Date).ToUniversalTime().ToString('o') + ' ' + $line)
    $c.Close()
}
'@
    $code = $code.Replace('__PORT__', [string]$Port).Replace('__LOG__', $LogPath)
    $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($code))
    $p = Start-Process -FilePath 'powershell.exe' -ArgumentList @('-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded) -WindowStyle Hidden -PassThru
    Wait-Until -Description "listener on 127.0.0.1:$Port" -TimeoutSeconds 30 -Condition {
        $null -ne (Get-NetTCPConnection -State Listen -LocalAddress '127.0.0.1' -LocalPort $Port -ErrorAction SilentlyContinue)
    }
    return $p
}

function New-ScenarioResult {
    # The record every run.ps1 writes to C:\clab\out\<scenario>\run.json for the assertion step.
    param([Parameter(Mandatory = $true)][string]$Scenario, [Parameter(Mandatory = $true)][datetime]$StartUtc)
    return [ordered]@{
        scenario  = $Scenario
        start     = [int64]([DateTimeOffset]$StartUtc).ToUnixTimeSeconds()
        end       = 0
        artifacts = @()
        notes     = @()
    }
}

function Save-ScenarioResult {
    param([Parameter(Mandatory = $true)]$Result)
    $Result.end = [int64]([DateTimeOffset](Get-Date).ToUniversalTime()).ToUnixTimeSeconds()
    $dir = Join-Path (Join-Path $script:ClabWork 'out') $Result.scenario
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    Write-Utf8NoBom -Path (Join-Path $dir 'run.json') -Text ($Result | ConvertTo-Json -Depth 5)
}

function Read-ResultLog {
    # Parses osqueryd.results.log line by line; a line osquery is still writing (or any bad line) is skipped.
    param([Parameter(Mandatory = $true)][string]$Path)
    $lines = New-Object System.Collections.Generic.List[object]
    if (-not (Test-Path -LiteralPath $Path)) { return , $lines.ToArray() }
    foreach ($text in [System.IO.File]::ReadAllLines($Path)) {
        if (-not $text.Trim()) { continue }
        try {
            $lines.Add((ConvertFrom-Json -InputObject $text))
        } catch {
            continue
        }
    }
    return , $lines.ToArray()
}
