//! Issue 13, finding 2: the 1 MiB body limit holds while the body streams in (docs/api.md, "Request
//! bodies"). Its own test binary with one test, so the process's peak memory is this test's alone
//! (the local host runs in-process).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sentinel_tests::{app, skip_on_real_spin};

const BODY_BYTES: usize = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// `VmHWM` (peak resident set) of this process in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets `VmHWM` to the current resident set (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
}

/// Sends a chunked body of [`BODY_BYTES`] to `path` without credentials while reading the answer.
/// Returns the status line, the response body and how many body bytes had been written when the
/// response headers arrived.
fn flood(path: &str) -> (String, String, usize) {
    let addr = app().addr();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let mut writer = stream.try_clone().unwrap();
    let counter = written.clone();
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; CHUNK];
        let mut sent = 0;
        while sent < BODY_BYTES {
            if writer.write_all(format!("{CHUNK:x}\r\n").as_bytes()).and_then(|_| writer.write_all(&chunk)).and_then(|_| writer.write_all(b"\r\n")).is_err() {
                return; // the server stopped reading and closed: expected
            }
            sent += CHUNK;
            counter.store(sent, Ordering::SeqCst);
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let at_response = written.load(Ordering::SeqCst);
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        let line = line.to_ascii_lowercase();
        if let Some(v) = line.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        chunked |= line.starts_with("transfer-encoding:") && line.contains("chunked");
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    }
    drop(reader);
    sender.join().unwrap();
    (status.trim().to_string(), String::from_utf8_lossy(&body).to_string(), at_response)
}

#[test]
fn a_multi_megabyte_body_is_refused_while_it_streams_in_with_flat_memory() {
    // Warm up: the components are loaded and instantiated once.
    let (status, _, _) = flood("/api/divisions");
    assert!(status.contains(" 413 "), "{status}");

    let measure_memory = !skip_on_real_spin("body_limit: peak memory");
    if measure_memory {
        reset_peak_rss();
    }
    let before = peak_rss_kib();
    let answers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ["/api/divisions", "/api/members", "/api/checkins/sync", "/api/auth/login"].into_iter().map(|p| s.spawn(move || (p, flood(p)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (path, (status, body, at_response)) in &answers {
        assert!(status.contains(" 413 "), "{path}: {status} {body}");
        let envelope: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert_eq!(envelope["error"], "PAYLOAD_TOO_LARGE", "{path}: {body}");
        assert!(envelope["correlationId"].is_string(), "{body}");
        // Answered long before the client could send everything: nobody read the rest.
        assert!(*at_response < BODY_BYTES / 4, "{path}: answered only after {at_response} bytes");
    }
    if measure_memory {
        let grown_mib = peak_rss_kib().saturating_sub(before) / 1024;
        // Four 64 MiB bodies at once; reading any of them whole would add at least 64 MiB.
        assert!(grown_mib < 32, "peak memory grew by {grown_mib} MiB while refusing four 64 MiB bodies");
    }
}
