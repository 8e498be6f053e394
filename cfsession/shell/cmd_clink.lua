-- cfsession: cmd.exe + Clink integration (SHELL_INTEGRATION.md section 3.6), generated per
-- recording session; it holds the session nonce. Clink loads it from %CLINK_PATH%; the
-- recorder deletes it once the shell has reported in. Exit codes need Clink >= 1.2.14
-- (os.geterrorlevel, with the cmd.get_errorlevel setting on: the default since 1.2.27).
-- Wire rules as for PowerShell (cfsession/shell/pwsh.py): values ASCII-only with \xHH
-- escapes, long values in parts of at most @PART@ characters, seq counting from 1. The
-- seq-0 markers that init.cmd put into PROMPT are removed from the prompt here, so with
-- Clink only these (rich=1) reach the recorder.
if not (clink and clink.onbeginedit and clink.onendedit) then return end

local INTRO = "\027]@OSC@;@NONCE@;"
local PART = @PART@
local MAXCMD = @MAXCMD@
local PID = os.getpid and os.getpid() or nil
local seq, cmdno, ran, hello = 0, 0, false, false

local function esc(s)
  return (s:gsub(".", function(c)
    local b = c:byte()
    if b < 32 or b > 126 or b == 59 or b == 92 then return string.format("\\x%02x", b) end
  end))
end

-- Cut escaped text into parts of at most PART characters, never inside an \xHH escape
-- (every backslash in escaped text starts one) nor inside a UTF-8 character.
local function split(s)
  local parts, i = {}, 1
  while #s - i + 1 > PART do
    local cut = i + PART
    for j = cut - 1, cut - 3, -1 do
      if s:sub(j, j) == "\\" then cut = j; break end
    end
    while cut - 4 > i and s:sub(cut, cut) == "\\" and ("89ab"):find(s:sub(cut + 2, cut + 2), 1, true) do
      cut = cut - 4
    end
    parts[#parts + 1] = s:sub(i, cut - 1)
    i = cut
  end
  parts[#parts + 1] = s:sub(i)
  return parts
end

local function mark(buf, body)
  seq = seq + 1
  buf[#buf + 1] = INTRO .. string.format("%d", seq) .. ";" .. body .. "\007"
end

-- One event; fields are escaped "key=value" strings; key/value is the one value that may
-- be cut into parts (the last part also carries the fields).
local function event(buf, ev, fields, key, value)
  local tail = ""
  for _, f in ipairs(fields) do tail = tail .. ";" .. f end
  if not key then mark(buf, ev .. tail); return end
  local parts = split(value)
  local n = #parts
  if n == 1 then mark(buf, ev .. ";" .. key .. "=" .. value .. tail); return end
  for k = 1, n do
    local body = ev .. ";part=" .. string.format("%d/%d", k, n) .. ";" .. key .. "=" .. parts[k]
    if k == n then body = body .. tail end
    mark(buf, body)
  end
end

local function with_pid(fields)
  if PID then fields[#fields + 1] = "pid=" .. string.format("%d", PID) end
  return fields
end

local function write(buf)
  local s = table.concat(buf)
  if clink.print and NONL then clink.print(s, NONL) else io.write(s); io.flush() end
end

local function setting(name)
  if settings and settings.get then return settings.get(name) end
  return nil
end

local function errorlevel()
  if not os.geterrorlevel or setting("cmd.get_errorlevel") == false then return "" end
  return string.format("%d", os.geterrorlevel())
end

clink.onbeginedit(function()
  local buf = {}
  if not hello then
    hello = true
    local h = {"shell=cmd", "proto=1", "rich=1"}
    if clink.version_encoded then h[#h + 1] = "clink=" .. string.format("%d", clink.version_encoded) end
    event(buf, "H", with_pid(h))
  end
  local d = {"cmdno=" .. string.format("%d", cmdno)}
  -- st present = a command ran; empty = its exit code is unknown (errorlevel off).
  if ran then d[#d + 1] = "st=" .. errorlevel() end
  ran = false
  event(buf, "D", with_pid(d))
  event(buf, "P", with_pid({}), "cwd", esc(os.getcwd()))
  event(buf, "A", with_pid({}))
  write(buf)
end)

clink.onendedit(function(line)
  if not line or not line:find("%S") then return end
  cmdno = cmdno + 1
  ran = true
  local buf = {}
  local f = {"src=readline", "cmdno=" .. string.format("%d", cmdno)}
  if setting("history.ignore_space") and line:find("^%s") then
    -- Clink keeps such lines out of its history; keep them out of the recording too.
    f[1] = "src=hidden"
    event(buf, "C", with_pid(f))
  else
    local text = line
    if #text > MAXCMD then
      local n = MAXCMD
      while n > 0 and text:byte(n + 1) >= 128 and text:byte(n + 1) < 192 do n = n - 1 end
      f[#f + 1] = "trunc=1"
      f[#f + 1] = "len=" .. string.format("%d", #line)
      text = text:sub(1, n)
    end
    event(buf, "C", with_pid(f), "cmd", esc(text))
  end
  write(buf)
end)

if clink.promptfilter then
  local STRIP = "\027%]@OSC@;@NONCE@;0;[^\027\007]*\027\\"
  local pf = clink.promptfilter(-1000)
  function pf:filter(prompt)
    return (prompt:gsub(STRIP, ""))
  end
end
