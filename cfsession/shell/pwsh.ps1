# cfsession integration for PowerShell 7 (pwsh) and Windows PowerShell 5.1.
# Generated per recording session: it holds the session's nonce and is deleted as soon as
# the shell has reported in. Dot-sourced after the profiles by
#     pwsh -NoLogo -NoExit -Command ". '<this file>'"
# (SHELL_INTEGRATION.md section 3.5). Nothing here prints; nothing goes into the environment.
# Markers: ESC ] @OSC@ ; <nonce> ; <seq> ; <event> [; key=value]* BEL (section 2). Values are
# sent ASCII-only: '\', ';', control bytes and every non-ASCII UTF-8 byte become \xHH, so
# a marker survives any console code page, and long values go out in parts of at most
# @PART@ characters (ConPTY on Windows 10 drops OSC strings longer than ~256 characters).
# This file must stay ASCII: Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page.

if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { return }
if (Get-Module -Name '__cfsession') { return }

New-Module -Name '__cfsession' -ArgumentList @($function:prompt, $function:PSConsoleHostReadLine) -ScriptBlock {
    param($OrigPrompt, $OrigReadLine)
    Microsoft.PowerShell.Core\Set-StrictMode -Off

    # Module (script) scope: invisible to the session's variables and never exported.
    $script:Intro = [string][char]0x1b + ']@OSC@;@NONCE@;'
    $script:Bel = [string][char]7
    $script:Part = @PART@
    $script:MaxCmd = @MAXCMD@
    $script:Seq = 0
    $script:CmdNo = 0
    $script:Ran = $false
    $script:OrigPrompt = $OrigPrompt
    $script:OrigReadLine = $OrigReadLine
    $script:HasReadLine = $null -ne $OrigReadLine
    $script:ErrTop = $null
    $script:LecBase = $null
    $script:LastHistId = 0
    $h = Get-History -Count 1
    if ($h) { $script:LastHistId = $h.Id }

    function Get-CfsEscaped([string] $Value) {
        if ($null -eq $Value) { return '' }
        [regex]::Replace($Value, '[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x20-\x3a\x3c-\x5b\x5d-\x7e]', {
            param($m)
            $sb = New-Object System.Text.StringBuilder
            foreach ($b in [System.Text.Encoding]::UTF8.GetBytes($m.Value)) {
                [void]$sb.Append('\x').Append($b.ToString('x2'))
            }
            $sb.ToString()
        })
    }

    # Cut escaped text into parts of at most $Max characters, never inside an \xHH escape
    # (in our escaped text every '\' starts one) and never inside a UTF-8 character.
    function Split-CfsEscaped([string] $Text, [int] $Max) {
        $parts = New-Object System.Collections.Generic.List[string]
        $i = 0
        while ($Text.Length - $i -gt $Max) {
            $cut = $i + $Max
            $b = $Text.LastIndexOf([char]'\', $cut - 1, 3)
            if ($b -ge 0) { $cut = $b }
            while ($cut - 4 -gt $i -and $Text[$cut] -eq [char]'\' -and '89ab'.IndexOf($Text[$cut + 2]) -ge 0) {
                $cut -= 4
            }
            $parts.Add($Text.Substring($i, $cut - $i))
            $i = $cut
        }
        $parts.Add($Text.Substring($i))
        , $parts
    }

    function Add-CfsMark([System.Text.StringBuilder] $Sb, [string] $Body) {
        $script:Seq++
        [void]$Sb.Append($script:Intro).Append([string]$script:Seq).Append(';').Append($Body).Append($script:Bel)
    }

    # One event. $Fields: escaped 'key=value' strings; $Key/$Value: an escaped value that
    # is cut into parts when long (each part is a marker of its own: ...;E;part=i/n;key=piece,
    # the last one also carries $Fields).
    function Add-CfsEvent([System.Text.StringBuilder] $Sb, [string] $Ev, [string[]] $Fields, [string] $Key, [string] $Value) {
        $tail = ''
        foreach ($f in $Fields) { $tail += ';' + $f }
        if (-not $Key) { Add-CfsMark $Sb ($Ev + $tail); return }
        $parts = Split-CfsEscaped $Value $script:Part
        $n = $parts.Count
        if ($n -eq 1) { Add-CfsMark $Sb ($Ev + ';' + $Key + '=' + $Value + $tail); return }
        for ($k = 0; $k -lt $n; $k++) {
            $body = $Ev + ';part=' + ($k + 1) + '/' + $n + ';' + $Key + '=' + $parts[$k]
            if ($k -eq $n - 1) { $body += $tail }
            Add-CfsMark $Sb $body
        }
    }

    # Our own code must leave no trace in the user's $Error: drop entries it added.
    function Restore-CfsErrors($Top) {
        $n = 0
        while ($global:Error.Count -gt 0 -and -not [object]::ReferenceEquals($global:Error[0], $Top) -and $n -lt 64) {
            $global:Error.RemoveAt(0)
            $n++
        }
    }

    # PSReadLine's AddToHistoryHandler decides what reaches the history file; a line it keeps
    # out (SkipAdding, MemoryOnly - the default for lines that look like secrets - or $false)
    # is recorded as hidden: the recording is a file too.
    function Test-CfsHidden([string] $Line) {
        $opt = Get-PSReadLineOption -ErrorAction Ignore
        if (-not $opt -or -not $opt.AddToHistoryHandler) { return $false }
        foreach ($r in @($opt.AddToHistoryHandler.Invoke($Line))) {
            if ($r -is [bool]) { return -not $r }
            $s = [string]$r
            return ($s -eq 'SkipAdding' -or $s -eq 'MemoryOnly')
        }
        $false
    }

    function Add-CfsCommand([System.Text.StringBuilder] $Sb, [string] $Line, [string] $Src, [string[]] $Extra = @()) {
        $script:CmdNo++
        $script:Ran = $true
        $fields = @("src=$Src", "cmdno=$($script:CmdNo)", "pid=$PID") + $Extra
        if ($Src -eq 'hidden') { Add-CfsEvent $Sb 'C' $fields; return }
        if ($Line.Length -gt $script:MaxCmd) {
            $fields += @('trunc=1', "len=$($Line.Length)")
            $Line = $Line.Substring(0, $script:MaxCmd)
        }
        Add-CfsEvent $Sb 'C' $fields 'cmd' (Get-CfsEscaped $Line)
    }

    function global:prompt {
        $ok = $?  # must stay the first statement: any other statement resets $?
        Microsoft.PowerShell.Core\Set-StrictMode -Off
        $lecSet = Test-Path -LiteralPath 'variable:global:LASTEXITCODE'
        $lec = if ($lecSet) { $global:LASTEXITCODE } else { $null }
        $errNew = $global:Error.Count -gt 0 -and -not [object]::ReferenceEquals($global:Error[0], $script:ErrTop)
        $top = $null
        if ($global:Error.Count -gt 0) { $top = $global:Error[0] }
        $sb = New-Object System.Text.StringBuilder
        try {
            if (-not $script:HasReadLine) {
                # No PSReadLine: learn the command from the history, after the fact (src=history,
                # late=1: its output came before this C).
                $h = Get-History -Count 1
                if ($h -and $h.Id -ne $script:LastHistId) {
                    $script:LastHistId = $h.Id
                    Add-CfsCommand $sb $h.CommandLine 'history' @('late=1')
                }
            }
            $d = @("cmdno=$($script:CmdNo)")
            if ($script:Ran) {
                # st as atuin derives it (0 if $? else $LASTEXITCODE if non-zero else 1), except
                # that a stale $LASTEXITCODE is not blamed for a PowerShell error: the raw
                # values go along (ok, lec, lec_changed, err) for anyone who wants to re-derive.
                $lecChanged = -not [object]::Equals($lec, $script:LecBase)
                $st = 1
                if ($ok) { $st = 0 }
                elseif ($lec -is [int] -and $lec -ne 0 -and ($lecChanged -or -not $errNew)) { $st = $lec }
                $d += @("st=$st", "ok=$(if ($ok) { 1 } else { 0 })", "lec=$(if ($lec -is [int]) { $lec } else { '' })",
                    "lec_changed=$(if ($lecChanged) { 1 } else { 0 })", "err=$(if ($errNew) { 1 } else { 0 })")
            }
            $script:Ran = $false
            Add-CfsEvent $sb 'D' $d
            if ($PWD.Provider.Name -eq 'FileSystem') {
                Add-CfsEvent $sb 'P' @() 'cwd' (Get-CfsEscaped $PWD.ProviderPath)
            } else {
                Add-CfsEvent $sb 'P' @() 'loc' (Get-CfsEscaped $PWD.Path)
            }
            Add-CfsEvent $sb 'A' @()
            [Console]::Write($sb.ToString())
        } catch { }
        Restore-CfsErrors $top
        try {
            $orig = $script:OrigPrompt
            if (-not $orig) { $orig = { 'PS ' + $PWD.Path + '> ' } }
            # The user's prompt sees the $? it would have seen without us. Nothing may run
            # between Write-Error and Invoke(): every statement resets $?.
            if (-not $ok) { Write-Error -Message 'cfsession' -ErrorAction Ignore }
            $text = -join @($orig.Invoke())
            if (-not $script:HasReadLine) {
                # Without PSReadLine the typed line follows the prompt text: B marks where.
                $b = New-Object System.Text.StringBuilder
                Add-CfsEvent $b 'B' @("pid=$PID")
                $text += $b.ToString()
            }
            $text
        } finally {
            # Hooks and prompt frameworks run native tools; the user's value survives them.
            if ($lecSet) { $global:LASTEXITCODE = $lec }
            elseif (Test-Path -LiteralPath 'variable:global:LASTEXITCODE') { Remove-Item -LiteralPath 'variable:global:LASTEXITCODE' }
            $script:LecBase = $lec
            $script:ErrTop = $null
            if ($global:Error.Count -gt 0) { $script:ErrTop = $global:Error[0] }
        }
    }

    if ($script:HasReadLine) {
        function global:PSConsoleHostReadLine {
            $lastRunStatus = $?  # PSReadLine's own wrapper reads $? first: hand it the same value
            Microsoft.PowerShell.Core\Set-StrictMode -Off
            if (-not $lastRunStatus) { Write-Error -Message 'cfsession' -ErrorAction Ignore }
            $line = & $script:OrigReadLine
            $top = $null
            if ($global:Error.Count -gt 0) { $top = $global:Error[0] }
            try {
                if (-not [string]::IsNullOrWhiteSpace($line)) {
                    $sb = New-Object System.Text.StringBuilder
                    $src = 'readline'
                    if (Test-CfsHidden $line) { $src = 'hidden' }
                    Add-CfsCommand $sb $line $src
                    [Console]::Write($sb.ToString())
                }
            } catch { }
            Restore-CfsErrors $top
            $line
        }
    }

    $sb = New-Object System.Text.StringBuilder
    $rl = if ($script:HasReadLine) { 1 } else { 0 }
    Add-CfsEvent $sb 'H' @('shell=@KIND@', "ver=$(Get-CfsEscaped ([string]$PSVersionTable.PSVersion))", "pid=$PID", 'proto=1', "rl=$rl")
    [Console]::Write($sb.ToString())
    Export-ModuleMember -Function @()
} | Import-Module -Global
