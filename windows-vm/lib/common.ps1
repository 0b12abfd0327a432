Set-StrictMode -Version Latest; $ErrorActionPreference = 'Stop'
# Shared steps for the provisioning, scenario and runner scripts. Dot-source it:
#   . 'C:\lineage\vm\lib\common.ps1'
# Every helper acts and throws on failure; none returns a value (windows-vm/internal/pslint checks it).
# Queries, parsing and assertions live in Go: C:\lineage\build\vmassert.exe (make build).
# Keep this file ASCII-only: Windows PowerShell 5.1 reads BOM-less non-ASCII scripts as ANSI.

$ClabRoot = 'C:\lineage'
$ClabVm = 'C:\lineage\vm'
$ClabWork = 'C:\clab'
$OsqueryHome = 'C:\Program Files\osquery'
$OsqueryLogDir = 'C:\Program Files\osquery\log'
$Vmassert = 'C:\lineage\build\vmassert.exe'
$Net4 = 'C:\Windows\Microsoft.NET\Framework64\v4.0.30319'

function Write-Utf8NoBom {
    # osquery silently ignores extensions.load (and misreads flag files) written with a BOM or as UTF-16.
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][string]$Text)
    $enc = New-Object System.Text.UTF8Encoding($false)
    [System.IO.File]::WriteAllText($Path, $Text, $enc)
}

function Invoke-Checked {
    # Runs a program to the end with its output in C:\clab\logs\<LogName>.out/.err, prints both, and
    # throws naming the program and exit code unless it exits with one of $OkCodes. Start-Process does
    # not quote arguments, so arguments with spaces are quoted here. Native stderr never reaches
    # PowerShell's error stream, so $ErrorActionPreference = 'Stop' cannot turn it into a failure.
    param([Parameter(Mandatory = $true)][string]$FilePath, [string[]]$ArgumentList = @(),
        [Parameter(Mandatory = $true)][string]$LogName, [int[]]$OkCodes = @(0))
    $out = Join-Path $ClabWork "logs\$LogName.out"
    $err = Join-Path $ClabWork "logs\$LogName.err"
    $quoted = @($ArgumentList | ForEach-Object { if ($_ -match '\s') { '"' + $_ + '"' } else { $_ } })
    $p = Start-Process -FilePath $FilePath -ArgumentList $quoted -Wait -PassThru -NoNewWindow -RedirectStandardOutput $out -RedirectStandardError $err
    Get-Content -LiteralPath $out, $err | Write-Host
    if ($OkCodes -notcontains $p.ExitCode) {
        throw ('{0} {1} exited {2} (output in {3} and {4})' -f $FilePath, ($quoted -join ' '), $p.ExitCode, $out, $err)
    }
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

function Save-PinnedDownload {
    # Puts the pinned file at $Path: windows-vm/cache/<name> when present (bring your own copy, for
    # offline rebuilds or a newer release), else a previous download, else a fresh one from $Url.
    # Refuses any file whose SHA-256 is not $Sha256, printing the hash found and how to update the pin.
    param([Parameter(Mandatory = $true)][string]$Url, [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string]$Sha256, [Parameter(Mandatory = $true)][string]$PinIn)
    [Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
    $ProgressPreference = 'SilentlyContinue'
    $name = Split-Path -Leaf $Path
    $cached = Join-Path $ClabVm "cache\$name"
    if (Test-Path -LiteralPath $cached) {
        Copy-Item -LiteralPath $cached -Destination $Path -Force
    } elseif (-not (Test-Path -LiteralPath $Path)) {
        Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $Path
    }
    $actual = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($actual -ne $Sha256.ToLowerInvariant()) {
        Remove-Item -LiteralPath $Path -Force
        throw ("SHA-256 mismatch for {0} (from {1}): got {2}, pinned {3}. The publisher may have released a new " +
            "build behind the same URL. Check the new file, then either set the pin in {4} to the new hash, or put the " +
            "file you trust as windows-vm/cache/{5} and pin its hash (README: What is pinned).") -f $name, $Url, $actual, $Sha256, $PinIn, $name
    }
    Write-Host "pinned download ok: $name sha256=$actual"
}
