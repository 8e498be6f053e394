# cfsession bash integration — generated per session; read once via --init-file or $ENV.
# SHELL_INTEGRATION.md §3.1. Nothing here prints during start-up; nothing is exported
# except CFSESSION_ID (set by the recorder, not secret).
if [[ -n "${__cfs_nonce-}" ]]; then return 0 2>/dev/null; fi
__cfs_nonce='@NONCE@'
__cfs_osc='@OSC@'
__cfs_dir='@DIR@'
__cfs_base=0
__cfs_hk=
__cfs_b=
__cfs_st=0
__cfs_ps=(0)
__cfs_cn='\#'
__cfs_last_cn=
__cfs_hist=
__cfs_self=$BASHPID

# -- the user's normal start-up files --------------------------------------------------
if [[ '@LOGIN@' == 1 ]]; then
  # Started as `bash --posix` with ENV=this file (kitty's method): become a normal bash
  # again and read what a login shell reads.
  set +o posix
  shopt -u inherit_errexit 2>/dev/null
  unset ENV
  if [[ -n '@HISTFILE_SET@' ]]; then HISTFILE='@HISTFILE@'; else HISTFILE=~/.bash_history; fi
  if [[ -r /etc/profile ]]; then builtin source /etc/profile; fi
  for __cfs_f in ~/.bash_profile ~/.bash_login ~/.profile; do
    if [[ -r $__cfs_f ]]; then builtin source "$__cfs_f"; break; fi
  done
  unset __cfs_f
else
  for __cfs_f in /etc/bash.bashrc /etc/bash/bashrc; do
    if [[ -r $__cfs_f ]]; then builtin source "$__cfs_f"; break; fi
  done
  if [[ -r ~/.bashrc ]]; then builtin source ~/.bashrc; fi
  unset __cfs_f
fi

# -- hooks -------------------------------------------------------------------------------
# Every hook runs under the user's options: `set -euo pipefail`, `set -x`, readonly
# variables. Each starts with `local -` and turns off what would trace it (the nonce),
# stop it (errexit, nounset) or change its results, and `local -` restores the user's
# options when it returns. Nothing here prints except the markers.

# Escape a value for the wire: \ -> \\, ; and control bytes -> \xHH. Result in __cfs_r.
__cfs_esc() {
  local s=$1
  # Most text (a path, a command line) has nothing to escape: skip the seven passes.
  if [[ $s != *[\\\;[:cntrl:]]* ]]; then
    __cfs_r=$s
    return 0
  fi
  s=${s//\\/\\\\}
  s=${s//;/\\x3b}
  s=${s//$'\n'/\\x0a}
  s=${s//$'\r'/\\x0d}
  s=${s//$'\t'/\\x09}
  s=${s//$'\e'/\\x1b}
  s=${s//$'\a'/\\x07}
  if [[ $s == *[[:cntrl:]]* ]]; then
    local i c out= LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [[:cntrl:]] ]]; then builtin printf -v c '\\x%02x' "'$c"; fi
      out+=$c
    done
    s=$out
  fi
  __cfs_r=$s
}

# Length of $1 in bytes, in __cfs_n.
__cfs_blen() {
  local LC_ALL=C
  __cfs_n=${#1}
}

# Write $1 to the terminal: to stdout when it is the terminal, else to /dev/tty. A user
# who sends stdout through a pipe (`exec > >(tee -a log)`) must not get markers — and the
# nonce — in the log, and the pipe would deliver them late (SHELL_INTEGRATION.md §2.4).
__cfs_out() {
  if [[ -t 1 ]]; then
    builtin printf '%s' "$1" 2>/dev/null
  else
    builtin printf '%s' "$1" 2>/dev/null >/dev/tty
  fi
  return 0
}

# One marker; $1 = seq, $2 = event, the rest key=value (already escaped).
__cfs_emit() {
  local IFS=';' m
  builtin printf -v m '\e]%s;%s;%s;%s\a' "$__cfs_osc" "$__cfs_nonce" "$1" "${*:2}"
  __cfs_out "$m"
}

# End of the previous command, the cwd, the prompt: D, P and A in one write (one wake-up
# of the recorder). The PROMPT_COMMAND element that calls this first saves $? and
# PIPESTATUS in globals (any command before that would clobber them).
__cfs_pc() {
  { local -; local o=$-; set +xeu; } 2>/dev/null
  __cfs_hk=1
  local cn=${__cfs_cn@P} d IFS=' '
  local seq=$((__cfs_base += 100000))
  if [[ -n $__cfs_last_cn && $cn != "$__cfs_last_cn" ]]; then
    d="cmdno=$cn;st=$__cfs_st;ps=${__cfs_ps[*]}"
  else
    d="cmdno=$cn"
  fi
  __cfs_last_cn=$cn
  __cfs_hist=$HISTCMD
  __cfs_esc "$PWD"
  local o=$'\e]'"$__cfs_osc;$__cfs_nonce;" m
  builtin printf -v m '%s%s;D;%s\a%s%s;P;cwd=%s\a%s%s;A\a' \
    "$o" "$seq" "$d" "$o" $((seq + 1)) "$__cfs_r" "$o" $((seq + 2))
  __cfs_out "$m"
  __cfs_b=$'\e]'"$__cfs_osc;$__cfs_nonce;$((seq + 3));B;pid=$$"$'\a'
  if ((!__cfs_arr)); then
    # bash < 5.1: one PROMPT_COMMAND string, no last element to keep things in place,
    # and the user's commands after ours see our status: hand theirs on (not under
    # `set -e`, which would end the shell on it).
    __cfs_keep
    if [[ $o != *e* ]]; then return $__cfs_st; fi
  fi
  return 0
}

# PS0 runs this in a command substitution (a subshell) once per command line read.
__cfs_c() {
  { local -; set +xeu; } 2>/dev/null
  local cn=${__cfs_cn@P} h num text src=history extra=
  local idx=$((cn - ${__cfs_last_cn:-0}))
  # Through a file in our private dir rather than $(...): one fork per command (PS0's
  # own subshell on bash < 5.3) is the floor; a second one would double the cost.
  # `1<>` rewrites the file in place and a NUL ends the text: a truncating `>` costs
  # ~130 us on a disk-backed /tmp (ext4 frees and reallocates the block), this ~12 us.
  if [[ ${HISTTIMEFORMAT@a} == *r* && -n $HISTTIMEFORMAT ]]; then
    # A read-only HISTTIMEFORMAT (audit set-ups) cannot be emptied for `history`: cut
    # the time stamp it adds, formatted as `history` formats it (this second or the last).
    { builtin history 1; builtin printf '\0'; } 1<>"$__cfs_dir/h" 2>/dev/null
    IFS= read -r -d '' h <"$__cfs_dir/h"
    h=${h#"${h%%[![:space:]]*}"}
    num=${h%%[!0-9]*}
    text=${h#"$num"}
    text=${text#??}
    local ts
    builtin printf -v ts "%($HISTTIMEFORMAT)T" -1
    if [[ $text != "$ts"* ]]; then builtin printf -v ts "%($HISTTIMEFORMAT)T" $((${EPOCHSECONDS:-0} - 1)); fi
    text=${text#"$ts"}
  else
    { HISTTIMEFORMAT= builtin history 1; builtin printf '\0'; } 1<>"$__cfs_dir/h" 2>/dev/null
    IFS= read -r -d '' h <"$__cfs_dir/h"
    h=${h#"${h%%[![:space:]]*}"}
    num=${h%%[!0-9]*}
    text=${h#"$num"}
    text=${text#??}
  fi
  text=${text%$'\n'}
  if [[ -z $num || $num -lt ${__cfs_hist:-0} || ! -o history ]]; then
    # The line was not added to history: a duplicate (ignoredups), a recalled line
    # under erasedups, or a hidden line (ignorespace, HISTIGNORE, set +o history). The
    # recorder decides from the echoed line.
    src=stale
  fi
  # Up to 128 KiB of UTF-8 (docs/SHELL_MATRIX.md); longer lines are cut by
  # whole characters and say so (trunc, len). Short text skips the byte count (its
  # `LC_ALL=C` makes bash reload the locale: ~20 us).
  __cfs_n=0
  if ((${#text} > 32768)); then __cfs_blen "$text"; fi
  if ((__cfs_n > 131072)); then
    extra="trunc=1;len=${#text};"
    local n=${#text}
    while ((__cfs_n > 131072)); do
      n=$((n * 131072 / __cfs_n - 16))
      __cfs_blen "${text:0:n}"
    done
    text=${text:0:n}
  fi
  # A prompt hook that is gone (PROMPT_COMMAND unset or replaced by an array) cannot
  # be put back from this subshell: tell the recorder, which says so.
  if [[ -z $__cfs_ps1_end && "${PROMPT_COMMAND[*]-}" != *"$__cfs_head"* ]]; then extra+="hook=lost;"; fi
  __cfs_esc "$text"
  builtin printf '\e]%s;%s;%s;C;cmd=%s;%ssrc=%s;cmdno=%s;pid=%s\a' \
    "$__cfs_osc" "$__cfs_nonce" $((__cfs_base + 4 + idx)) "$__cfs_r" "$extra" "$src" "$cn" "$$"
}

__cfs_head='__cfs_st=$? __cfs_ps=("${PIPESTATUS[@]}"); __cfs_pc'
__cfs_tailc='__cfs_st=$? __cfs_ps=("${PIPESTATUS[@]}"); __cfs_tail'
__cfs_ps0='$(__cfs_c >/dev/tty 2>/dev/null)'
__cfs_ps1='\[${__cfs_b-}\]'
__cfs_ps1_end=
__cfs_sig=$'\2'  # never equal to a joined PROMPT_COMMAND: the first call builds it
__cfs_user=()
__cfs_arr=0
if ((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))); then __cfs_arr=1; fi

# Last PROMPT_COMMAND element (bash >= 5.1, where bash gives every element the real $?
# and PIPESTATUS). A string assignment to PROMPT_COMMAND (`source ~/.bashrc`, a typed
# `PROMPT_COMMAND=...`, a framework installing itself) replaces element 0, our hook:
# report this prompt from here if it did not run, and put the hook back.
__cfs_tail() {
  { local -; set +xeu; } 2>/dev/null
  if [[ -z $__cfs_hk ]]; then __cfs_pc; fi
  __cfs_hk=
  if [[ ${PROMPT_COMMAND[0]-} != "$__cfs_head" && ${PROMPT_COMMAND@a} == *a* ]]; then
    # The other elements as we left them: the string was meant to replace the user's
    # prompt commands (as it would without us), so they go.
    local -a now=()
    local e IFS=$'\x1f'
    for e in "${PROMPT_COMMAND[@]:1}"; do [[ $e != "$__cfs_tailc" ]] && now+=("$e"); done
    if [[ "${now[*]}" == "${__cfs_user[*]}" ]]; then PROMPT_COMMAND=("${PROMPT_COMMAND[0]}"); fi
  fi
  # bash-preexec sets its "next command is the user's" flag last in PROMPT_COMMAND, and
  # our element, run after it, used the flag up: the prompt at which it installed
  # itself, before we moved our element in front of its. Set the flag again.
  local relay=
  if [[ $__cfs_sig != *"$__cfs_tailc"$'\x1f'__bp_interactive_mode ]] &&
    declare -F __bp_interactive_mode >/dev/null; then relay=1; fi
  __cfs_keep
  if [[ -n $relay ]]; then __bp_interactive_mode; fi
  return 0
}

# Keep our hooks in place even if a framework rewrote PROMPT_COMMAND, PS0 or PS1.
__cfs_keep() {
  local IFS=$'\x1f'
  if [[ ${PS0-} != *"$__cfs_ps0"* && ${PS0@a} != *r* ]]; then PS0=${PS0-}$__cfs_ps0; fi
  if [[ -n $__cfs_ps1_end ]]; then
    # Read-only PROMPT_COMMAND: the end marker first in PS1, B last.
    if [[ ${PS1-} != "$__cfs_ps1"*"$__cfs_ps1_end" && ${PS1@a} != *r* ]] && shopt -q promptvars; then
      local p=${PS1-}
      p=${p//"$__cfs_ps1"/}
      PS1=$__cfs_ps1${p//"$__cfs_ps1_end"/}$__cfs_ps1_end
    fi
  elif [[ ${PS1-} != *"$__cfs_ps1" && ${PS1@a} != *r* ]] && shopt -q promptvars; then
    local p=${PS1-}
    PS1=${p//"$__cfs_ps1"/}$__cfs_ps1
  fi
  if [[ "${PROMPT_COMMAND[*]-}" == "$__cfs_sig" || ${PROMPT_COMMAND@a} == *r* ]]; then return 0; fi
  local -a rest=()
  local e bpi=
  if ((__cfs_arr)); then
    for e in "${PROMPT_COMMAND[@]}"; do
      # bash-preexec and others copy PROMPT_COMMAND's text into theirs: take ours out.
      e=${e//"$__cfs_head; "/}
      e=${e//"$__cfs_head"$'\n'/}
      e=${e//"$__cfs_head"/}
      e=${e//"$__cfs_tailc"/}
      [[ -n ${e//[$'\n; \t']/} ]] && rest+=("$e")
    done
    # bash-preexec's __bp_interactive_mode must stay last: its DEBUG trap takes the
    # first command after it for the user's (unless it is in $PROMPT_COMMAND's text).
    local n=${#rest[@]}
    if ((n > 0)); then
      e=${rest[n - 1]}
      if [[ $e == __bp_interactive_mode ]]; then
        bpi=1
        rest=("${rest[@]:0:n-1}")
      elif [[ $e == *[$'\n;']__bp_interactive_mode ]]; then
        bpi=1
        e=${e%__bp_interactive_mode}
        rest[n - 1]=${e%[$'\n;']}
      fi
    fi
    if [[ -n $bpi ]]; then
      __cfs_user=("${rest[@]}" __bp_interactive_mode)
      PROMPT_COMMAND=("$__cfs_head" "${rest[@]}" "$__cfs_tailc" __bp_interactive_mode)
    else
      __cfs_user=("${rest[@]}")
      PROMPT_COMMAND=("$__cfs_head" "${rest[@]}" "$__cfs_tailc")
    fi
  else
    # bash 4.4 and 5.0: one string; our hook first, and it hands $? on to the rest.
    local old=${PROMPT_COMMAND-}
    old=${old//"$__cfs_head; "/}
    old=${old//"$__cfs_head"/}
    PROMPT_COMMAND=$__cfs_head${old:+; $old}
  fi
  __cfs_sig="${PROMPT_COMMAND[*]}"
}

__cfs_init() {
  { local -; set +xeu; } 2>/dev/null
  local lim=
  if [[ ${PROMPT_COMMAND@a} == *r* ]]; then
    # An audit set-up made PROMPT_COMMAND read-only: no hook can run at the prompt. The
    # prompt string can still carry the end of a command and its status ($? is the
    # command's while PS1 is expanded), but not PIPESTATUS or the cwd: say so.
    lim=";limit=readonly_prompt_command"
    __cfs_ps1='\[\e]'$__cfs_osc';${__cfs_nonce-};$((__cfs_base+=100000));D;st=$?;pid=$$\a\]'
    __cfs_ps1_end='\[\e]'$__cfs_osc';${__cfs_nonce-};$((__cfs_base+3));B;pid=$$\a\]'
  fi
  __cfs_keep
  if [[ ${PS0@a} == *r* ]]; then lim+=";limit=readonly_ps0"; fi
  __cfs_esc "$BASH_VERSION"
  __cfs_emit 1 H shell=bash "ver=$__cfs_r" "pid=$$" "proto=1$lim"
}
__cfs_init
