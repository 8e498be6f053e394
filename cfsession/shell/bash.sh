# cfsession bash integration — generated per session; read once via --init-file or $ENV.
# SHELL_INTEGRATION.md §3.1. Nothing here prints during start-up; nothing is exported
# except CFSESSION_ID (set by the recorder, not secret).
if [[ -n "${__cfs_nonce-}" ]]; then return 0 2>/dev/null; fi
__cfs_nonce='@NONCE@'
__cfs_osc='@OSC@'
__cfs_dir='@DIR@'
__cfs_base=0
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
# Escape a value for the wire: \ -> \\, ; and control bytes -> \xHH. Result in __cfs_r.
__cfs_esc() {
  local s=$1
  # Most text (a path, a command line) has nothing to escape: skip the seven passes.
  if [[ $s != *[\\\;[:cntrl:]]* ]]; then
    __cfs_r=$s
    return
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
      if [[ $c == [[:cntrl:]] ]]; then printf -v c '\\x%02x' "'$c"; fi
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

# One marker; $1 = seq, $2 = event, the rest key=value (already escaped).
__cfs_emit() {
  local IFS=';'
  builtin printf '\e]%s;%s;%s;%s\a' "$__cfs_osc" "$__cfs_nonce" "$1" "${*:2}"
}

# First PROMPT_COMMAND element: report the end of the previous command, the cwd, the prompt.
# The hook element first saves $? and PIPESTATUS in globals (a `declare -F` guard
# before that would clobber them), then runs this. Its three markers leave in one
# printf: one write, one wake-up of the recorder, and ~60 us less bash time per prompt
# than three calls of __cfs_add.
__cfs_pc() {
  { local -; set +x; } 2>/dev/null
  local cn=${__cfs_cn@P} seq=$((__cfs_base += 100000)) d IFS=' '
  if [[ -n $__cfs_last_cn && $cn != "$__cfs_last_cn" ]]; then
    d="cmdno=$cn;st=$__cfs_st;ps=${__cfs_ps[*]}"
  else
    d="cmdno=$cn"
  fi
  __cfs_last_cn=$cn
  __cfs_hist=$HISTCMD
  __cfs_esc "$PWD"
  local o=$'\e]'"$__cfs_osc;$__cfs_nonce;"
  builtin printf '%s%s;D;%s\a%s%s;P;cwd=%s\a%s%s;A\a' \
    "$o" "$seq" "$d" "$o" $((seq + 1)) "$__cfs_r" "$o" $((seq + 2))
  __cfs_keep
  return $__cfs_st
}

# PS0 runs this in a command substitution (a subshell) once per command line read.
__cfs_c() {
  { local -; set +x; } 2>/dev/null
  local cn=${__cfs_cn@P} h num text src=history
  local idx=$((cn - __cfs_last_cn))
  # Through a file in our private dir rather than $(...): one fork per command (PS0's
  # own subshell on bash < 5.3) is the floor; a second one would double the cost.
  # `1<>` rewrites the file in place and a NUL ends the text: a truncating `>` costs
  # ~130 us on a disk-backed /tmp (ext4 frees and reallocates the block), this ~12 us.
  { HISTTIMEFORMAT= builtin history 1; builtin printf '\0'; } 1<>"$__cfs_dir/h" 2>/dev/null
  IFS= read -r -d '' h <"$__cfs_dir/h"
  h=${h%$'\n'}
  h=${h#"${h%%[![:space:]]*}"}
  num=${h%%[!0-9]*}
  text=${h#"$num"}
  text=${text#??}
  if [[ -z $num || $num -lt $__cfs_hist || ! -o history ]]; then
    # The line was not added to history: a duplicate (ignoredups) or a hidden line
    # (ignorespace, HISTIGNORE, set +o history). The recorder decides from the echo.
    src=stale
  fi
  if ((${#text} > 65000)); then text=${text:0:65000}; fi
  __cfs_esc "$text"
  # The recorder caps a marker at 64 KiB of *bytes*: multibyte text or many escapes pass
  # the character limit above, so shorten (by whole characters) until the bytes fit.
  # A character is at most 4 bytes, so short text skips the count (its `LC_ALL=C` makes
  # bash reload the locale: ~20 us).
  __cfs_n=0
  if ((${#__cfs_r} > 15000)); then __cfs_blen "$__cfs_r"; fi
  while ((__cfs_n > 60000)); do
    text=${text:0:$((${#text} * 60000 / __cfs_n - 16))}
    __cfs_esc "$text"
    __cfs_blen "$__cfs_r"
  done
  builtin printf '\e]%s;%s;%s;C;cmd=%s;src=%s;cmdno=%s;pid=%s\a' \
    "$__cfs_osc" "$__cfs_nonce" $((__cfs_base + 3 + idx)) "$__cfs_r" "$src" "$cn" "$$"
}

# Keep our hooks in place even if a framework rewrote PROMPT_COMMAND or PS0.
__cfs_keep() {
  local ps0='$(__cfs_c >/dev/tty 2>/dev/null)'
  if [[ $PS0 != *"$ps0"* ]]; then PS0=${PS0-}$ps0; fi
  local hook='__cfs_st=$? __cfs_ps=("${PIPESTATUS[@]}"); declare -F __cfs_pc >/dev/null && __cfs_pc'
  if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
    if [[ ${PROMPT_COMMAND[0]} != "$hook" ]]; then
      local -a rest=()
      local e
      for e in "${PROMPT_COMMAND[@]}"; do [[ $e != "$hook" ]] && rest+=("$e"); done
      PROMPT_COMMAND=("$hook" "${rest[@]}")
    fi
  elif [[ ${PROMPT_COMMAND-} != "$hook"* ]]; then
    local old=${PROMPT_COMMAND-}
    old=${old//"$hook; "/}
    old=${old//"$hook"/}
    PROMPT_COMMAND=$hook${old:+; $old}
  fi
}

__cfs_keep
__cfs_esc "$BASH_VERSION"
__cfs_emit 1 H shell=bash "ver=$__cfs_r" "pid=$$" proto=1
