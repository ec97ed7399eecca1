-- wrk script: the same chat request as post_chat.lua, streamed (server-sent events). wrk counts a
-- request as done when the last chunk of the response has arrived.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0123456789abcdef"
wrk.body = '{"model":"bench-model","messages":[' ..
  '{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Say hello in five words."}],' ..
  '"max_tokens":32,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
