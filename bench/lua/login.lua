-- POST /api/v1/auth/token (form-encoded login) as random seeded users.
-- Script arguments: the file of emails, one a line; their password.
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("number", threads)
end

local function encode(text)
   return (text:gsub("[^%w%-._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local emails = {}
local password

function init(args)
   for line in io.lines(args[1]) do
      emails[#emails + 1] = encode(line)
   end
   password = encode(args[2])
   math.randomseed(number)
end

function request()
   local body = "username=" .. emails[math.random(#emails)] .. "&password=" .. password
   return wrk.format("POST", "/api/v1/auth/token", nil, body)
end
