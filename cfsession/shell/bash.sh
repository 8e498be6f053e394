# cfsession bash integration — generated per session; read once via --init-file or $ENV.
# SHELL_INTEGRATION.md §3.1. Nothing here prints during start-up; nothing is exported
# except CFSESSION_ID (set by the recorder, not secret).
if [[ -n "${__cfs_nonce-}" ]]; then return 0 2>/dev/null; fi
__cfs_nonce='@NONCE@'
__cfs_osc='@OSC@'
__cfs_dir='@DIR@'
__cfs_s=1  # the last marker's seq (H is 1)
__cfs_hs=()
__cfs_h=
__cfs_x=
__cfs_ts=
__cfs_nofork=1
__cfs_hk=  # "$?;ps=PIPESTATUS" of this prompt, saved by whichever of our elements ran first
__cfs_ran=0  # 1: __cfs_pc ran at this prompt (__cfs_tail looks, then clears it; so does PS0)
__cfs_st='0;ps=0'  # __cfs_hk of the last prompt (bash < 5.1 hands $? on)
__cfs_cn='\#'
# The command number at the last prompt: -2 before the first prompt, -100 after it (its
# number is no baseline: bash 5.3 gives the first prompt 1 where 5.2 gives 0, though both
# number the first command 1 in PS0; the next prompt takes the baseline from __cfs_hs).
__cfs_last_cn=-2
__cfs_hist=

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
    builtin printf '%s' "$1"
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
# of the recorder). The PROMPT_COMMAND elements are the bare function names (bash parses
# an element's text at every prompt); the first statement of each saves $? and
# PIPESTATUS in __cfs_hk, already as D sends them (`0;ps=0 1`: no substitution later),
# unless the other did at this prompt (any statement before it would clobber them;
# `${x:-...}` expands them only when x is empty).
# This runs at every prompt, and bash copies a function's whole body each time it calls
# it (copy_command: the cost grows with the body, run or not): the common case — one
# command, its line in history, plain text and cwd — is all this body holds; the rest
# is in __cfs_pcx. (cfsession/shell/bash.py defines it twice from this text, between the
# two marker lines: bash >= 5.3 reads `history 1` with `${ …; }`, the rest through a file.)
#@53{
__cfs_pc() {
  __cfs_hk=${__cfs_hk:-$?;ps=${PIPESTATUS[@]}}
  if [[ $- == *[xeu]* ]]; then __cfs_opts "$-" __cfs_pc; return; fi
  local cn=${__cfs_cn@P} d t p=$PWD IFS=$'\n'
  if ((cn - __cfs_last_cn != 1 || !__cfs_nofork || ${#HISTTIMEFORMAT})); then
    __cfs_pcx "$cn"
  else
    # One command since the last prompt (nearly always): `history 1` into t, without a
    # fork. bash >= 5.3: `${ …; }` runs it in this shell (10 system calls a command
    # fewer than the file). Before 5.3 it goes through a file in our private dir
    # ($(...) would fork); `1<>` rewrites it in place and a NUL ends the text: a
    # truncating `>` costs ~130 us on a disk-backed /tmp (ext4 frees and reallocates
    # the block), this ~12 us. IFS=$'\n' makes `read` drop the newline. `read` takes
    # the file on fd 3, not 0: fd 0 would be saved and put back around it (5 system
    # calls more, ~7 us), and 3 is the number open() gives it (no dup2); bash saves and
    # restores fd 3 too if the user has it open. "  NUM  TEXT": the spaces, NUM and
    # its two spaces go.
    @HIST1@
    t=${t#*[0-9]  }
    # PS0 noted $HISTCMD for the command (__cfs_hs): if it moved, the line went into
    # history; if not (ignorespace, ignoredups, erasedups, set +o history) the entry is
    # an older line, sent as src=stale for the recorder to decide from the echo.
    d="cmdno=$cn;st=$__cfs_hk;cmd=$t;src=${__cfs_src[__cfs_hs[cn] > __cfs_hist]}" __cfs_hs=()
  fi
  # One look for what must be escaped or cut, in the text and the cwd (rare).
  if [[ $t$p == *[\\\;[:cntrl:]]* || ${#t} -gt 32768 ]]; then __cfs_pcx "$cn" "$t"; fi
  __cfs_last_cn=$cn __cfs_hist=$HISTCMD __cfs_st=$__cfs_hk __cfs_hk= __cfs_ran=1
  if [[ -t 1 ]]; then
    # The format is a literal (the nonce is written into this file): expanding a
    # variable that holds it costs more than printf's parsing of it.
    builtin printf '\e]@OSC@;@NONCE@;%s;D;%s\a\e]@OSC@;@NONCE@;%s;P;cwd=%s\a\e]@OSC@;@NONCE@;%s;A\a' \
      $((__cfs_s + 1)) "$d" $((__cfs_s + 2)) "$p" $((__cfs_s += 3))
  else
    __cfs_out "$__cfs_cm$((__cfs_s + 1));D;$d"$'\a'"$__cfs_cm$((__cfs_s + 2));P;cwd=$p"$'\a'"$__cfs_cm$((__cfs_s += 3));A"$'\a'
  fi
  if ((__cfs_solo)); then
    # Nothing of the user's in PROMPT_COMMAND, nothing runs after us: __cfs_tail's look
    # is done here, and the last element runs no function (__cfs_tail1).
    IFS=$'\x1f'
    if [[ "${PROMPT_COMMAND[*]-}" != "$__cfs_sig" || ${PS0-} != "$__cfs_s0" || ${PS1-} != "$__cfs_s1" ]]; then
      __cfs_fix
    fi
  elif ((!__cfs_arr)); then
    __cfs_old
    return
  fi
  return 0
}
#@53}
__cfs_src=(stale history)

# __cfs_pc's rare cases; the D fields in `d`, the cwd in `p` and the command number in
# `cn` (the caller's locals: the first prompt sets cn to -100, which __cfs_pc then keeps
# as __cfs_last_cn). $2 = the history line when the caller read one (its src is in `d`):
# it, or the cwd, needs escaping or cutting.
__cfs_pcx() {
  if ((__cfs_last_cn == -100)); then
    # The prompt after the first: PS0 noted each command run since by its number.
    local -a ran=("${!__cfs_hs[@]}")
    if ((${#ran[@]})); then __cfs_last_cn=$((ran[0] - 1)); else __cfs_last_cn=$cn; fi
  fi
  if (($# > 1)); then
    if [[ -n $t ]]; then
      __cfs_cut "$2"
      d="cmdno=$cn;st=$__cfs_hk;cmd=$__cfs_r;$__cfs_x""src=${d##*;src=}"
    fi
    __cfs_esc "$p"
    p=$__cfs_r
  elif ((__cfs_last_cn == -2)); then
    d="cmdno=$cn" cn=-100  # the first prompt
  elif [[ $cn == "$__cfs_last_cn" ]]; then
    d="cmdno=$cn"  # nothing ran: empty line, Ctrl-C, parse error
  else
    d="cmdno=$cn;st=$__cfs_hk"
    if ((__cfs_nofork)); then
      __cfs_texts "$((cn - __cfs_last_cn))"
      d+=$__cfs_r
    fi
  fi
}

# With xtrace, errexit or nounset on: run hook $2 without them (`local -` puts them back
# on return); $1 = the options it was called under (__cfs_old looks for errexit).
__cfs_opts() {
  local - __cfs_o=$1
  { set +xeu; } 2>/dev/null
  "$2"
}

# bash < 5.1: one PROMPT_COMMAND string, no last element to keep things in place, and
# the user's commands after ours see our status: hand theirs on (not under `set -e`,
# which would end the shell on it). __cfs_o: the options __cfs_pc was called under.
__cfs_old() {
  local IFS=$'\x1f'
  if [[ "${PROMPT_COMMAND-}" != "$__cfs_sig" || ${PS0-} != *"$__cfs_ps0"* || ${PS1-} != *"$__cfs_ps1" ]]; then
    __cfs_keep
  fi
  if [[ ${__cfs_o-} != *e* ]]; then return ${__cfs_st%%;*}; fi
  return 0
}

# The history text of one entry from `history` output in $1 ("  num  text"), with a
# read-only HISTTIMEFORMAT's time stamp cut; in __cfs_r.
__cfs_entry() {
  local h=$1 num
  h=${h#"${h%%[![:space:]]*}"}
  num=${h%%[!0-9]*}
  h=${h#"$num"}
  h=${h#??}
  if [[ -n $__cfs_ts ]]; then
    local ts
    builtin printf -v ts "%($__cfs_ts)T" -1
    if [[ $h != "$ts"* ]]; then builtin printf -v ts "%($__cfs_ts)T" $((${EPOCHSECONDS:-0} - 1)); fi
    h=${h#"$ts"}
  fi
  __cfs_r=$h
}

# `history $1` into __cfs_h, through a file in our private dir: $(...) would fork.
# `1<>` rewrites the file in place and a NUL ends the text: a truncating `>` costs
# ~130 us on a disk-backed /tmp (ext4 frees and reallocates the block), this ~12 us.
__cfs_history() {
  __cfs_ts=
  if [[ ${HISTTIMEFORMAT@a} == *r* && -n $HISTTIMEFORMAT ]]; then __cfs_ts=$HISTTIMEFORMAT; fi
  if [[ -n $__cfs_ts ]]; then
    { builtin history "$1"; builtin printf '\0'; } 1<>"$__cfs_dir/h"
  else
    { HISTTIMEFORMAT= builtin history "$1"; builtin printf '\0'; } 1<>"$__cfs_dir/h"
  fi
  IFS= builtin read -r -d '' -u 3 __cfs_h 3<"$__cfs_dir/h"
  __cfs_h=${__cfs_h%$'\n'}
}

# The text of the $1 commands run since the last prompt, as D fields (in __cfs_r): `cmd`
# and `src` for the last, `cmd.N`/`src.N` (N = its command number) for earlier ones (a
# pasted block). No fork: PS0 noted $HISTCMD for every command (__cfs_hs), so a command
# whose line went into history is told from one that did not (ignorespace, ignoredups,
# erasedups, set +o history) — that one gets `src=stale` (the last line in history) and
# the recorder decides from the echoed line. __cfs_pc does the one-command case itself
# unless HISTTIMEFORMAT is set (its time stamp must be cut: __cfs_entry).
__cfs_texts() {
  local n=$1 k c prev=$__cfs_hist added=0 out= text src
  local -a add=()
  for ((k = n - 1; k >= 0; k--)); do
    c=$((__cfs_last_cn + n - k))
    if ((${__cfs_hs[c]:-0} > prev)); then add+=(1); ((added++)); prev=${__cfs_hs[c]}; else add+=(0); fi
  done
  __cfs_hs=()
  local -a texts=()
  if ((added == 1 || (added == 0 && n > 0))); then
    __cfs_history 1
    __cfs_entry "$__cfs_h"
    texts=("$__cfs_r")
  elif ((added > 1)); then
    # Entries are told apart by their numbers, which follow each other.
    __cfs_history "$added"
    local line l num want= cur= have=
    while IFS= read -r line; do
      l=${line#"${line%%[! ]*}"}
      num=${l%%[!0-9]*}
      if [[ -n $num && ( -z $want || $num == "$want" ) && ${l:${#num}:2} == @(  |\* ) ]]; then
        [[ -n $have ]] && texts+=("$cur")
        __cfs_entry "$line"
        cur=$__cfs_r have=1 want=$((num + 1))
      else
        cur+=$'\n'$line
      fi
    done <<<"$__cfs_h"
    [[ -n $have ]] && texts+=("$cur")
    if ((${#texts[@]} != added)); then texts=() added=0; fi
  fi
  local i=0 last=$((n - 1)) key
  for ((k = 0; k < n; k++)); do
    c=$((__cfs_last_cn + k + 1))
    if ((k == last)); then key=; else key=.$c; fi
    if ((add[k])) && ((i < ${#texts[@]})); then
      text=${texts[i]} src=history
      ((i++))
    elif ((k == last)) && ((${#texts[@]} > 0)); then
      text=${texts[${#texts[@]} - 1]} src=stale
    else
      out+=";src$key=hidden"
      continue
    fi
    __cfs_cut "$text"
    out+=";cmd$key=$__cfs_r;${__cfs_x//=/$key=}src$key=$src"
  done
  __cfs_r=$out
}

# $1 cut to the command text limit, escaped, in __cfs_r; `trunc=1;len=N;` in __cfs_x
# when it was cut. Up to 128 KiB of UTF-8 (docs/SHELL_MATRIX.md); longer lines are cut
# by whole characters. Short text skips the byte count (its `LC_ALL=C` makes bash
# reload the locale: ~20 us).
__cfs_cut() {
  local text=$1
  __cfs_x=
  __cfs_n=0
  if ((${#text} > 32768)); then __cfs_blen "$text"; fi
  if ((__cfs_n > 131072)); then
    __cfs_x="trunc=1;len=${#text};"
    local n=${#text}
    while ((__cfs_n > 131072)); do
      n=$((n * 131072 / __cfs_n - 16))
      __cfs_blen "${text:0:n}"
    done
    text=${text:0:n}
  fi
  __cfs_esc "$text"
}

# With a read-only PROMPT_COMMAND no hook runs at the prompt: PS0 runs this in a
# command substitution (a subshell, one fork per command) and the text goes in C. $1 is
# the command number (PS0's \#).
__cfs_c() {
  { local -; set +xeu; } 2>/dev/null
  local cn=${1:-0} num src=history
  __cfs_history 1
  __cfs_entry "$__cfs_h"
  local h=${__cfs_h#"${__cfs_h%%[![:space:]]*}"}
  num=${h%%[!0-9]*}
  if [[ -z $num || $num -lt ${__cfs_hist:-0} || ! -o history ]]; then src=stale; fi
  __cfs_cut "$__cfs_r"
  builtin printf '\e]%s;%s;%s;C;cmd=%s;%ssrc=%s;cmdno=%s;pid=%s\a' \
    "$__cfs_osc" "$__cfs_nonce" $((__cfs_s + 1 + cn)) "$__cfs_r" "$__cfs_x" "$src" "$cn" "$$"
}

__cfs_head=__cfs_pc
__cfs_tailc=__cfs_tail
__cfs_tail1='${__cfs_tl[__cfs_ran]}'
__cfs_tl=(__cfs_tail :)
# PS0, expanded in the shell itself once per command line read (bash >= 4.4): the start
# marker from prompt escapes and parameter/arithmetic expansion only — no command
# substitution, so no fork. It numbers the marker from a counter every marker shares
# and notes $HISTCMD for the command (__cfs_texts reads it at the next prompt), both in
# one arithmetic expansion (the comma gives the seq).
# ${__cfs_cm:+...}: a child shell that inherits an exported PS0/PS1 prints nothing.
# __cfs_cm is an array (its element 0 is the marker's head): bash never puts an array in
# the environment, not even under `set -a` or `export`, so no other process — a child
# shell, `exec bash` — ever has it, and these markers need no pid (SHELL_INTEGRATION.md
# §2.2) to keep a child's out: the pid cost readline ~10 k instructions a prompt.
__cfs_cm=($'\e]'"$__cfs_osc;$__cfs_nonce;")
__cfs_ps0='${__cfs_cm:+$__cfs_cm$((__cfs_hs[\#]=HISTCMD, __cfs_ran=0, __cfs_s+=1));C;src=ps0;cmdno=\#\a}'
# The end of PS1: the prompt-end marker B (where the typed line starts).
__cfs_ps1='\[${__cfs_cm:+$__cfs_cm$((__cfs_s+=1));B\a}\]'
__cfs_ps1_end=
__cfs_sig=$'\2'  # never equal to a joined PROMPT_COMMAND: the first call builds it
__cfs_s0=
__cfs_s1=
__cfs_relay=0
__cfs_user=()
__cfs_arr=0
__cfs_solo=0  # PROMPT_COMMAND is (__cfs_pc "$__cfs_tail1"): __cfs_pc looks for what moved
if ((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))); then __cfs_arr=1; fi

# Last PROMPT_COMMAND element (bash >= 5.1, where bash gives every element the real $?
# and PIPESTATUS). A string assignment to PROMPT_COMMAND (`source ~/.bashrc`, a typed
# `PROMPT_COMMAND=...`, a framework installing itself) replaces element 0, our hook:
# report this prompt from here if it did not run, and put the hook back.
__cfs_tail() {
  __cfs_hk=${__cfs_hk:-$?;ps=${PIPESTATUS[@]}}
  if [[ $- == *[xeu]* ]]; then __cfs_opts "$-" __cfs_tail; return; fi
  if ((!__cfs_ran)); then __cfs_pc; fi
  __cfs_ran=0 __cfs_hk=
  # Nothing moved since __cfs_keep last looked (nearly always): done. Plain equality
  # with what it left: a pattern match (`== *"$x"*`) costs bash far more per character.
  local IFS=$'\x1f'
  if [[ "${PROMPT_COMMAND[*]-}" != "$__cfs_sig" || ${PS0-} != "$__cfs_s0" || ${PS1-} != "$__cfs_s1" ]]; then
    __cfs_fix
  elif ((__cfs_relay)); then
    __bp_interactive_mode
  fi
  return 0
}

# __cfs_tail's long way: put our hooks back where a string assignment or a framework
# moved them.
__cfs_fix() {
  if [[ ${PROMPT_COMMAND[0]-} != "$__cfs_head" && ${PROMPT_COMMAND@a} == *a* ]]; then
    # The other elements as we left them: the string was meant to replace the user's
    # prompt commands (as it would without us), so they go.
    local -a now=()
    local e IFS=$'\x1f'
    for e in "${PROMPT_COMMAND[@]:1}"; do [[ $e != "$__cfs_tailc" && $e != "$__cfs_tail1" ]] && now+=("$e"); done
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
  if [[ "${PROMPT_COMMAND[*]-}" == "$__cfs_sig" || ${PROMPT_COMMAND@a} == *r* ]]; then
    __cfs_seen
    return 0
  fi
  local -a rest=()
  local e bpi=
  if ((__cfs_arr)); then
    for e in "${PROMPT_COMMAND[@]}"; do
      # bash-preexec and others copy PROMPT_COMMAND's text into theirs: take ours out.
      e=${e//"$__cfs_head; "/}
      e=${e//"$__cfs_head"$'\n'/}
      e=${e//"$__cfs_head"/}
      e=${e//"$__cfs_tailc"/}
      e=${e//"$__cfs_tail1"/}
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
    __cfs_solo=0
    if [[ -n $bpi ]]; then
      __cfs_user=("${rest[@]}" __bp_interactive_mode)
      PROMPT_COMMAND=("$__cfs_head" "${rest[@]}" "$__cfs_tailc" __bp_interactive_mode)
    elif ((n == 0)) && [[ $__cfs_ps0 == *__cfs_ran=0* && ${PS0-} == *"$__cfs_ps0"* ]] &&
      ! declare -F __bp_interactive_mode >/dev/null; then
      # Nothing of the user's (nearly always): __cfs_pc does __cfs_tail's look itself,
      # and the last element, __cfs_tail1, runs `:` when __cfs_pc ran at this prompt
      # (PS0 sets __cfs_ran back to 0 for every command line), else __cfs_tail — one
      # function call a prompt instead of two.
      __cfs_user=()
      PROMPT_COMMAND=("$__cfs_head" "$__cfs_tail1")
      __cfs_solo=1
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
  __cfs_seen
}

# What __cfs_tail compares at each prompt: PROMPT_COMMAND, and PS0 and PS1 when they hold
# our markers (when they do not — read-only, promptvars off — the long way runs at every
# prompt, to put them back when it can); and whether bash-preexec's flag must be set
# again at each prompt (its element is in PROMPT_COMMAND but not last, so ours runs
# after it).
__cfs_seen() {
  __cfs_s0=$'\2' __cfs_s1=$'\2' __cfs_relay=0
  if [[ ${PS0-} == *"$__cfs_ps0"* ]]; then __cfs_s0=$PS0; fi
  if [[ -z $__cfs_ps1_end && ${PS1-} == *"$__cfs_ps1" ]]; then __cfs_s1=$PS1; fi
  if [[ $__cfs_sig != *"$__cfs_tailc"$'\x1f'__bp_interactive_mode ]] &&
    declare -F __bp_interactive_mode >/dev/null; then __cfs_relay=1; fi
}

__cfs_init() {
  { local -; set +xeu; } 2>/dev/null
  local lim=
  if [[ ${PROMPT_COMMAND@a} == *r* ]]; then
    # An audit set-up made PROMPT_COMMAND read-only: no hook can run at the prompt. The
    # prompt string can still carry the end of a command and its status ($? is the
    # command's while PS1 is expanded), but not PIPESTATUS or the cwd: say so.
    lim=";limit=readonly_prompt_command"
    __cfs_nofork=0
    __cfs_ps0='$(__cfs_c \# >/dev/tty 2>/dev/null)'
    # Every C the PS0 subshell sends is numbered __cfs_s + its command number: the next
    # D must come after all of them.
    __cfs_ps1_end=$__cfs_ps1
    __cfs_ps1='\[${__cfs_cm:+$__cfs_cm$((__cfs_s+=100000+\#));D;st=$?;pid=$$\a}\]'
  fi
  __cfs_keep
  if [[ ${PS0@a} == *r* ]]; then lim+=";limit=readonly_ps0"; fi
  __cfs_esc "$BASH_VERSION"
  __cfs_emit 1 H shell=bash "ver=$__cfs_r" "pid=$$" "proto=1$lim"
}
__cfs_init
