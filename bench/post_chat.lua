-- wrk script: a small, non-streaming OpenAI chat request, authenticated with the bench key.
-- The URL path comes from the command line (/v1/chat/completions).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0123456789abcdef"
wrk.body = '{"model":"bench-model","messages":[' ..
  '{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Say hello in five words."}],' ..
  '"max_tokens":32,"temperature":0}'
