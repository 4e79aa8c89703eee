"""Rate limits: per global/user/key scope, per model and endpoint, over sliding windows.

`config` describes limits, `sources` resolves who is limited by what, `windows` is the algorithm
(in process), `redis_limiter` the same algorithm as one Lua script, `limiter` switches between
them when Redis comes and goes, and `stage` plugs it all into the inference pipeline.
"""
