@echo off
rem cfsession integration for cmd.exe (SHELL_INTEGRATION.md section 3.6), generated per
rem recording session; it holds the session nonce. Started as
rem     cmd.exe /k (percent)CFSESSION_CMD_INIT(percent)
rem where that variable holds this file's quoted path, so no path needs quoting on the
rem command line. No percent signs in these remarks: cmd expands them even here.
rem ASCII only and CRLF line ends: cmd reads batch files in the OEM code page.
rem
rem cmd has no hooks: markers live in PROMPT, expanded each time the prompt is shown. They
rem give command boundaries and the cwd, never the command text or its exit code, and a
rem static PROMPT cannot count: every marker carries seq 0 ("unsequenced"). H says rich=0.
rem $P (the cwd) is inserted raw as the last field, rawcwd, up to the terminator.
rem With Clink, cfsession.lua (beside this file, found through CLINK_PATH) removes these
rem markers from the prompt and sends sequenced ones with the command line and exit code.
set "CFSESSION_CMD_INIT="
if not defined PROMPT set "PROMPT=$P$G"
set "PROMPT=$E]@OSC@;@NONCE@;0;H;shell=cmd;proto=1;rich=0$E\$E]@OSC@;@NONCE@;0;D$E\$E]@OSC@;@NONCE@;0;P;rawcwd=$P$E\$E]@OSC@;@NONCE@;0;A$E\%PROMPT%$E]@OSC@;@NONCE@;0;B$E\"
