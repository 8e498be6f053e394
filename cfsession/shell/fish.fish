# cfsession fish integration — generated per session; read by `fish --init-command`, which
# runs after config.fish (SHELL_INTEGRATION.md §3.3), so the user's prompt and handlers
# are already in place. Nothing here prints during start-up; nothing is exported.
if status is-interactive; and not set -q __cfs_nonce
    # Global, not exported: children never see it (VS Code's fish nonce was set -l inside
    # an if block and so was gone when needed, vscode#183972).
    set -g __cfs_nonce '@NONCE@'
    set -g __cfs_osc @OSC@
    set -g __cfs_p 0  # prompts so far: the seq base, and the command number
    set -g __cfs_phase start  # start, prompt, cmd (after fish_preexec)
    set -g __cfs_dsent 0
    # Control characters other than newline (fish strings cannot hold NUL) and their
    # escapes, computed once.
    set -g __cfs_ctl
    set -g __cfs_ctl_esc
    for __cfs_i in 1 2 3 4 5 6 7 8 9 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 127
        set -l hex (printf '%02x' $__cfs_i)
        set -a __cfs_ctl (printf "\\x$hex")
        set -a __cfs_ctl_esc "\\x$hex"
    end
    set -e __cfs_i

    # Escape for the wire into the global $__cfs_r: \ -> \\, ; and every control character
    # -> \xHH (not only \ and ; as VS Code's fish script does). A global rather than
    # output, because each command substitution costs ~60 us in fish 3.6; and most text
    # (a path, a command line) has nothing to escape and skips the passes. Lines are
    # escaped one by one because a command substitution splits on newlines; they are
    # joined again with \x0a.
    function __cfs_esc
        if not string match -qr '[\x01-\x1f\x7f\\\\;]' -- "$argv[1]"
            set -g __cfs_r "$argv[1]"
            return
        end
        set -l parts (string split -- \n "$argv[1]")
        set parts (string replace -a -- '\\' '\\\\' $parts)
        set parts (string replace -a -- ';' '\\x3b' $parts)
        if string match -qr '[\x01-\x09\x0b-\x1f\x7f]' -- $parts
            set -l i 0
            for c in $__cfs_ctl
                set i (math $i + 1)
                set parts (string replace -a -- $c $__cfs_ctl_esc[$i] $parts)
            end
        end
        set -g __cfs_r (string join -- '\\x0a' $parts)
    end

    # Markers: pairs of (k, "EVENT;key=value;...") with values escaped; the seq is "<p><k>"
    # where p counts prompts. One `math` per prompt instead of one per marker (each costs
    # ~70 us in fish 3.6), and seqs still increase: the prompt sends k = 0, 1, 2, a
    # command's start 3, its end 4, the exit 5, and the next prompt starts at (p+1)0. The
    # markers of one call leave in one printf: one write, one wake-up of the recorder.
    function __cfs_emit
        set -l out
        while set -q argv[2]
            set -a out $__cfs_osc $__cfs_nonce "$__cfs_p"$argv[1] $argv[2]
            set -e argv[1..2]
        end
        printf '\e]%s;%s;%s;%s\a' $out
    end

    # Length in bytes (UTF-8) of $argv[1], one line: fish's `string length` counts
    # characters, so add a byte per 2-byte, two per 3-byte, three per 4-byte character.
    function __cfs_bytes
        set -l s $argv[1]
        set -l n2 (string replace -ra '[^\x{80}-\x{7ff}]' '' -- "$s" | string length)
        set -l n3 (string replace -ra '[^\x{800}-\x{ffff}]' '' -- "$s" | string length)
        set -l n4 (string replace -ra '[^\x{10000}-\x{10ffff}]' '' -- "$s" | string length)
        math (string length -- "$s") + $n2 + 2 \* $n3 + 3 \* $n4
    end

    # True when the line must not be recorded: private mode, or a line the user kept out
    # of history (leading space; fish >= 4 lets fish_should_add_to_history decide).
    function __cfs_hidden
        test -n "$fish_private_mode"; and return 0
        if functions -q fish_should_add_to_history
            fish_should_add_to_history $argv[1] >/dev/null 2>&1; and return 1
            return 0
        end
        string match -q -- ' *' $argv[1]
    end

    function __cfs_preexec --on-event fish_preexec
        set -l fish_trace  # never trace our own lines (they carry the nonce)
        if test $__cfs_phase != prompt
            # A second command without a prompt between (or one before the first
            # prompt): a new seq base, so the seqs keep increasing.
            set -g __cfs_p (math $__cfs_p + 1)
        end
        set -g __cfs_phase cmd
        set -g __cfs_dsent 0
        set -g __cfs_groups
        if jobs -q  # a command substitution only when there are jobs to list
            set -g __cfs_groups (jobs --group 2>/dev/null)
        end
        if __cfs_hidden $argv[1]
            __cfs_emit 3 "C;src=hidden;cmdno=$__cfs_p;pid=$fish_pid"
            return
        end
        set -l text $argv[1]
        __cfs_esc $text
        set -l r $__cfs_r
        set -l extra
        # Past the command text limit (128 KiB of UTF-8 as sent, docs/SHELL_MATRIX.md) the
        # line is cut by whole characters, and says so. A character is at most 4 bytes:
        # short text skips the count.
        if string match -qr '^.{32769}' -- "$r"
            set -l bytes (__cfs_bytes "$r")
            if test $bytes -gt 131072
                set -l n (string length -- $text)
                set extra "trunc=1;len=$n;"
                while test $bytes -gt 131072
                    set n (math --scale 0 "$n * 131072 / $bytes - 16")
                    __cfs_esc (string sub -l $n -- $text | string collect)
                    set r $__cfs_r
                    set bytes (__cfs_bytes "$r")
                end
            end
        end
        __cfs_emit 3 "C;cmd=$r;$extra""src=preexec;cmdno=$__cfs_p;pid=$fish_pid"
    end

    # fish_postexec fires even for `exit N`, with $status and $pipestatus intact.
    function __cfs_postexec --on-event fish_postexec
        set -l st $status
        set -l ps $pipestatus
        set -l fish_trace
        # Ctrl-Z: fish leaves $status as it was; a job that is stopped now and did not
        # exist before the command is this command, stopped: 128 + SIGTSTP, as bash/zsh say.
        if jobs -q
            for line in (jobs 2>/dev/null)
                set -l f (string split \t -- $line)
                if test "$f[4]" = stopped; and not contains -- "$f[2]" $__cfs_groups
                    set st 148
                    set ps 148
                end
            end
        end
        __cfs_emit 4 "D;cmdno=$__cfs_p;st=$st;ps=$ps"
        set -g __cfs_dsent 1
    end

    # fish runs an event's handlers in the order they were defined, and config.fish ran
    # before us: define the user's fish_postexec handlers again so they come after ours,
    # and what they print (a timing line) lands in the prompt, not in the command.
    for __cfs_i in (functions --handlers-type generic | string match -r '^fish_postexec (.*)$' | string match -rv '^fish_postexec ')
        test $__cfs_i = __cfs_postexec; and continue
        functions $__cfs_i | source
    end
    set -e __cfs_i

    function __cfs_prompt --on-event fish_prompt
        set -l fish_trace
        set -l cmdno $__cfs_p
        set -g __cfs_p (math $__cfs_p + 1)
        set -g __cfs_phase prompt
        __cfs_esc $PWD
        if test $__cfs_dsent = 0
            # nothing ran (empty line)
            __cfs_emit 0 "D;cmdno=$cmdno" 1 "P;cwd=$__cfs_r" 2 A
        else
            __cfs_emit 1 "P;cwd=$__cfs_r" 2 A
        end
        set -g __cfs_dsent 0
    end

    # Ctrl-C at the prompt and syntax errors redraw the prompt without a fish_prompt
    # event: close the cycle here so the recorder sees "nothing ran".
    function __cfs_cancel --on-event fish_cancel --on-event fish_posterror
        set -l fish_trace
        __cfs_prompt
    end

    function __cfs_exit --on-event fish_exit
        set -l st $status
        set -l fish_trace
        __cfs_emit 5 "X;st=$st"
    end

    set -l __cfs_v $version
    set -q FISH_VERSION; and set __cfs_v $FISH_VERSION
    __cfs_esc $__cfs_v
    __cfs_emit 5 "H;shell=fish;ver=$__cfs_r;pid=$fish_pid;proto=1"
end
