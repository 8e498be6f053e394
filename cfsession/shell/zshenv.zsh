# cfsession zsh integration — generated per session as <private dir>/.zshenv, the only
# file in the dir zsh was started with as $ZDOTDIR (kitty's method, SHELL_INTEGRATION.md
# §3.2). It gives $ZDOTDIR back at once, so zsh then reads the user's own .zprofile,
# .zshrc and .zlogin exactly as it would have. Nothing here prints; nothing is exported.
# Builtins are quoted because this file may be read with the user's global aliases on.
if [[ '@ZDOTDIR_SET@' == 1 ]]; then
  'builtin' 'export' ZDOTDIR='@ZDOTDIR@'
else
  'builtin' 'unset' 'ZDOTDIR'
fi

# zsh loads zsh/newuser right before this file; it looked in our dir, found this file
# and stood down. Give it the same look at the user's dir so a user without any startup
# files still gets zsh-newuser-install, exactly as without cfsession.
if [[ -o interactive && -o rcs ]]; then
  'builtin' 'zmodload' '-s' 'zsh/newuser' 2>/dev/null
  'builtin' 'zmodload' '-u' 'zsh/newuser' 2>/dev/null
fi

if [[ -o interactive && -z "${__cfs_nonce-}" ]]; then
  'builtin' 'typeset' -g __cfs_nonce='@NONCE@' __cfs_osc='@OSC@'
  # Every marker starts with this head; built once, not at each marker.
  'builtin' 'typeset' -g __cfs_head=$'\e]'"$__cfs_osc;$__cfs_nonce;"
  'builtin' 'typeset' -g __cfs_eol_raw= __cfs_eol= __cfs_pwd= __cfs_cwd=
  # The hooks' scratch space: globals, as a local costs more to drop at each return
  # than the statement that sets it.
  'builtin' 'typeset' -g __cfs_t= __cfs_d=
  'builtin' 'typeset' -gi __cfs_seq=0 __cfs_cmdno=0 __cfs_ran=0 __cfs_hello=0 __cfs_fd=1 __cfs_bytes=0 __cfs_n=0 __cfs_sw=0
  'builtin' 'typeset' -ga precmd_functions preexec_functions zshexit_functions

  # A close-on-exec fd to the terminal (kitty's reasoning): markers still reach the
  # recorder when the user redirects the shell's stdout, and no fd leaks to children.
  {
    'builtin' 'zmodload' 'zsh/system' && (( $+builtins[sysopen] )) && {
      { [[ -w $TTY ]] && 'builtin' 'sysopen' -o cloexec -wu __cfs_fd -- $TTY } ||
      { [[ -w /dev/tty ]] && 'builtin' 'sysopen' -o cloexec -wu __cfs_fd -- /dev/tty }
    }
  } 2>/dev/null || (( __cfs_fd = 1 ))
  # Markers are written with zsh/system's syswrite where it is loaded: print -u dups the
  # fd and its 2>/dev/null opens /dev/null, ~16 system calls per command. A flag, not a
  # look at $builtins each time (that costs more than the write saves here); __cfs_wf
  # covers the module being unloaded later.
  (( $+builtins[syswrite] )) && __cfs_sw=1

  # Every function below is defined inside __cfs_defs, run once under `emulate zsh -c`:
  # that marks them for sticky emulation, so zsh itself puts its own options in place
  # (and xtrace off) as each one is entered and gives the user's back when it returns,
  # whatever the user set (ksh_arrays, sh_word_split, glob_subst, no_unset, xtrace…).
  # That costs less than a guard statement run at the top of each hook, and nothing is
  # traced, not even the guard. local_patterns: the user's `disable -p` comes back too.
  __cfs_defs() {
    # Escape for the wire: \ -> \\, ; and bytes 0x00-0x1F, 0x7F -> \xHH. Result in REPLY,
    # its length in bytes in __cfs_bytes.
    __cfs_esc() {
      # Printable ASCII without \ or ; (a path, a command line: the common case) is sent
      # as it is, and its length in characters is its length in bytes. This test comes
      # before the setopt below, which alone costs ~12 us per call.
      if [[ $1 != *[^\ -:\<-\[\]-~]* ]]; then
        REPLY=$1
        __cfs_bytes=${#1}
        return
      fi
      builtin setopt localoptions nomultibyte  # bytes, so UTF-8 passes through untouched
      builtin local s=$1 c out= i
      s=${s//\\/\\\\}
      s=${s//;/\\x3b}
      s=${s//$'\n'/\\x0a}
      s=${s//$'\t'/\\x09}
      s=${s//$'\r'/\\x0d}
      s=${s//$'\e'/\\x1b}
      if [[ $s == *[$'\x00'-$'\x1f'$'\x7f']* ]]; then
        for (( i = 1; i <= ${#s}; i++ )); do
          c=$s[i]
          if [[ $c == [$'\x00'-$'\x1f'$'\x7f'] ]]; then builtin printf -v c '\\x%02x' "'$c"; fi
          out+=$c
        done
        s=$out
      fi
      REPLY=$s
      __cfs_bytes=${#s}
    }

    # Length of $1 in bytes, in __cfs_n (REPLY holds the escaped text).
    __cfs_blen() {
      builtin setopt localoptions nomultibyte
      __cfs_n=${#1}
    }

    # syswrite failed with status $1 on marker $2: 2 is a write error (print would meet it
    # too: the marker is lost, as before); 1 is zsh/system gone (one "no such builtin"
    # line): print from now on.
    __cfs_wf() {
      (( $1 == 1 )) || builtin return 0
      __cfs_sw=0
      builtin print -rnu $__cfs_fd -- "$2" 2>/dev/null
    }

    # One marker: $1 = event, the rest key=value (already escaped). Plain counter for seq:
    # zsh hooks run in the shell itself, never in a subshell.
    __cfs_emit() {
      builtin local m="$__cfs_head$(( ++__cfs_seq ));${(j:;:)@}"$'\a'
      if (( __cfs_sw )); then builtin syswrite -o $__cfs_fd -- "$m" || __cfs_wf $? "$m"
      else builtin print -rnu $__cfs_fd -- "$m" 2>/dev/null; fi
    }

    # First in precmd_functions: every precmd function sees the same $? (LV8), and ours
    # going first puts other hooks' output (pure prints a line) after D, in the prompt.
    __cfs_precmd() {
      # First, so $? and $pipestatus are read before anything changes them: straight into
      # the tail of D as it is sent (dropped below when nothing ran). Sticky emulation has
      # ksh_arrays off here, so $pipestatus is the whole array.
      __cfs_d=";st=$?;ps=${(j: :)pipestatus}"
      # Plugins call precmd hooks from zle to redraw the prompt: that is not a command end.
      builtin zle && builtin return 0
      if (( ! __cfs_hello )); then
        __cfs_hello=1  # first prompt: the user's startup files have all run
        __cfs_keep
        __cfs_esc "$ZSH_VERSION"
        __cfs_emit H shell=zsh "ver=$REPLY" "pid=$$" proto=1
      fi
      # The three markers are built here and leave in one write: a zsh function call costs
      # ~9 us here, so neither a helper per marker nor an escape call for a plain path.
      if (( __cfs_ran )); then
        __cfs_ran=0
        if [[ -o promptsp && -o promptcr ]]; then
          # zsh printed its PROMPT_SP trailer (this mark, spaces, CR, spaces, CR) into the
          # command's output just before precmd; tell the recorder exactly what to strip.
          if [[ ${PROMPT_EOL_MARK-'%B%S%#%s%b'} != "$__cfs_eol_raw" ]]; then
            # Expanded and escaped once, again only if it changes.
            __cfs_eol_raw=${PROMPT_EOL_MARK-'%B%S%#%s%b'}
            __cfs_esc "${(%)__cfs_eol_raw}"
            __cfs_eol=$REPLY
          fi
          __cfs_d+=";sp=$__cfs_eol"
        fi
      else
        __cfs_d=  # nothing ran: empty line, Ctrl-C, parse error
      fi
      # The cwd is escaped again only when it changes: a plain compare costs a third of
      # the escape's pattern test. (An unset PWD reads as empty, as the first cwd does.)
      if [[ $PWD != "$__cfs_pwd" ]]; then
        __cfs_pwd=$PWD
        __cfs_esc "$PWD"
        __cfs_cwd=$REPLY
      fi
      __cfs_d="$__cfs_head$(( ++__cfs_seq ));D;cmdno=$__cfs_cmdno$__cfs_d"$'\a'"$__cfs_head$(( ++__cfs_seq ));P;cwd=$__cfs_cwd"$'\a'"$__cfs_head$(( ++__cfs_seq ));A"$'\a'
      if (( __cfs_sw )); then builtin syswrite -o $__cfs_fd -- "$__cfs_d" || __cfs_wf $? "$__cfs_d"
      else builtin print -rnu $__cfs_fd -- "$__cfs_d" 2>/dev/null; fi
      # __cfs_keep's checks, here: its call costs more than they do.
      [[ ${precmd_functions[1]-} == __cfs_precmd && ${preexec_functions[-1]-} == __cfs_preexec &&
        ${zshexit_functions[-1]-} == __cfs_zshexit ]] || __cfs_keep
    }

    # Last in preexec_functions: output of other preexec hooks comes before C.
    # $1 is the line as typed (aliases unexpanded, heredoc bodies included); $3 is the
    # expanded text, used only when the history mechanism is off and $1 is empty. A plain
    # line (printable ASCII, no \ or ;, not too long, not hidden) goes out as it is; the
    # rest through __cfs_preexec_x. One bracket says it all: space to ~ less ; and \
    # (one pattern to compile and match at each command, not two).
    __cfs_preexec() {
      __cfs_t=${1:-$3}
      if [[ $__cfs_t == *[^\ -:\<-\[\]-~]* || ${#__cfs_t} -gt 32768 ||
        ( -o histignorespace && $__cfs_t == [[:space:]]* ) ]]; then
        __cfs_preexec_x "$__cfs_t"
        __cfs_t=  # a hidden line is not kept
        builtin return
      fi
      __cfs_ran=1
      __cfs_t="$__cfs_head$(( ++__cfs_seq ));C;cmd=$__cfs_t;src=preexec;cmdno=$(( ++__cfs_cmdno ));pid=$$"$'\a'
      if (( __cfs_sw )); then builtin syswrite -o $__cfs_fd -- "$__cfs_t" || __cfs_wf $? "$__cfs_t"
      else builtin print -rnu $__cfs_fd -- "$__cfs_t" 2>/dev/null; fi
    }

    __cfs_preexec_x() {
      (( ++__cfs_cmdno ))
      __cfs_ran=1
      builtin local text=$1 src=preexec
      builtin local -a cmd
      if [[ -o histignorespace && $text == [[:space:]]* ]]; then
        src=hidden  # the user asked for this line to stay out of history: keep it out of ours
      else
        __cfs_esc "$text"
        builtin local -i rawb=0
        (( ${#text} > 32768 )) && { __cfs_blen "$text"; rawb=$__cfs_n }
        if (( rawb > 131072 )); then
          # Past the command text limit (128 KiB of UTF-8, docs/SHELL_MATRIX.md): cut the
          # text by whole characters, not its escaped form, so no escape or character is
          # cut in half; and say so.
          builtin local -i n=${#text}
          while (( rawb > 131072 )); do
            n=$(( n * 131072 / rawb - 16 ))
            __cfs_blen "${text[1,n]}"
            rawb=$__cfs_n
          done
          __cfs_esc "${text[1,n]}"
          cmd=("cmd=$REPLY" trunc=1 "len=${#text}")
        else
          cmd=("cmd=$REPLY")
        fi
      fi
      text="$__cfs_head$(( ++__cfs_seq ));C;${(j:;:)cmd}${cmd:+;}src=$src;cmdno=$__cfs_cmdno;pid=$$"$'\a'
      if (( __cfs_sw )); then builtin syswrite -o $__cfs_fd -- "$text" || __cfs_wf $? "$text"
      else builtin print -rnu $__cfs_fd -- "$text" 2>/dev/null; fi
    }

    __cfs_zshexit() {
      builtin local __cfs_st=$?
      __cfs_emit X "st=$__cfs_st"
    }

    # Keep our hooks first/last however the user's frameworks reorder the arrays.
    __cfs_keep() {
      [[ ${precmd_functions[1]-} == __cfs_precmd ]] ||
        precmd_functions=(__cfs_precmd ${precmd_functions:#__cfs_precmd})
      [[ ${preexec_functions[-1]-} == __cfs_preexec ]] ||
        preexec_functions=(${preexec_functions:#__cfs_preexec} __cfs_preexec)
      [[ ${zshexit_functions[-1]-} == __cfs_zshexit ]] ||
        zshexit_functions=(${zshexit_functions:#__cfs_zshexit} __cfs_zshexit)
    }
  }
  'builtin' 'emulate' 'zsh' '-o' 'no_aliases' '-o' 'local_options' '-o' 'local_traps' \
    '-o' 'local_patterns' '+o' 'xtrace' '-c' '__cfs_defs'
  'builtin' 'unfunction' '__cfs_defs'

  # Only the deferred part now; the rest goes in at the first prompt, after the user's
  # rc files (Oh My Zsh and others reset hooks while they load).
  precmd_functions=(__cfs_precmd ${precmd_functions:#__cfs_precmd})
fi

# The user's own .zshenv, from their ZDOTDIR (an empty ZDOTDIR means /, as in zsh).
{
  'builtin' 'typeset' __cfs_f=${ZDOTDIR-~}/.zshenv
  [[ ! -r $__cfs_f ]] || 'builtin' 'source' '--' "$__cfs_f"
} always {
  'builtin' 'unset' '__cfs_f'
}
