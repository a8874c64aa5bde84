-- GET or PATCH /api/v1/users/{id} on random seeded ids; a PATCH sends a new full_name.
-- Script arguments: the file of ids (one a line), the method.
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("number", threads)
end

local ids = {}
local method

function init(args)
   for line in io.lines(args[1]) do
      ids[#ids + 1] = line
   end
   method = args[2]
   -- A fixed seed per thread: the app and the floor get the same ids in the same order.
   math.randomseed(number)
end

function request()
   local path = "/api/v1/users/" .. ids[math.random(#ids)]
   if method == "PATCH" then
      return wrk.format("PATCH", path, nil, string.format('{"full_name":"Bench Renamed %d"}', math.random(1000000)))
   end
   return wrk.format("GET", path)
end
