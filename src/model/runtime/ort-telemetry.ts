/**
 * Official onnxruntime builds for Linux and macOS send usage events to
 * Microsoft (1DS) since 1.29, on by default: here, a DNS lookup of
 * mobile.events.data.microsoft.com every few seconds from every serving and
 * training process. livetag reads sellers' chat and runs in clusters that
 * often have no way out, so it turns them off unless the deployment set
 * ORT_DISABLE_TELEMETRY itself (0 lets onnxruntime send them). onnxruntime
 * reads the variable once, when its environment starts: every module that
 * loads onnxruntime-node imports this one before it.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';
