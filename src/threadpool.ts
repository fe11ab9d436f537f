// Imported first by the entry points: sizes libuv's thread pool before anything uses it. Every
// commit fsyncs several files and directories in parallel, and with the default four threads
// concurrent writes queue behind each other's fsyncs (ARCHITECTURE.md, "Pitfalls seen").
// An operator's own UV_THREADPOOL_SIZE wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
