//! The fuzz targets' inputs as plain tests: every input a fuzzer once crashed on
//! (`tests/fuzz/regressions/<target>/`), and a fixed, deterministic set of damaged copies
//! of real inputs (truncated at many points, bytes flipped, lines shuffled), so the cases
//! the fuzzers cover most often stay covered in every CI run.

use std::path::{Path, PathBuf};

use oauthscope::fuzzing;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed crash inputs of one target.
fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("tests/fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn files_in(dir: &Path, ext: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ext.contains(&e))
            {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A small deterministic generator (xorshift), so the damaged copies are the same each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The input itself, cut at `cuts` points, with bytes flipped/inserted/deleted `flips`
/// times (one change per copy), and with two lines swapped.
fn damaged(input: &[u8], cuts: usize, flips: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = vec![input.to_vec()];
    for i in 1..=cuts {
        out.push(input[..input.len() * i / (cuts + 1)].to_vec());
    }
    const SPECIAL: &[u8] = b"\0\"\\{}[]:,\n\r\t%+=&#?.\xff\xc3";
    for _ in 0..flips {
        let mut v = input.to_vec();
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(3) {
            0 => v[at] = SPECIAL[rng.below(SPECIAL.len())],
            1 => v.insert(at, SPECIAL[rng.below(SPECIAL.len())]),
            _ => {
                v.remove(at);
            }
        }
        out.push(v);
    }
    let lines: Vec<&[u8]> = input.split(|b| *b == b'\n').collect();
    if lines.len() > 2 {
        let mut l = lines.clone();
        let (a, b) = (rng.below(l.len()), rng.below(l.len()));
        l.swap(a, b);
        out.push(l.join(&b'\n'));
    }
    out
}

fn run(target: &str, f: fn(&[u8]), seeds: Vec<Vec<u8>>, cuts: usize, flips: usize) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut n = 0;
    for input in regressions(target) {
        f(&input);
        n += 1;
    }
    for seed in &seeds {
        for input in damaged(seed, cuts, flips, &mut rng) {
            f(&input);
            n += 1;
        }
    }
    n
}

#[test]
fn capture_reader_survives_damaged_captures() {
    let seeds = files_in(&root().join("samples"), &["jsonl"]);
    assert!(seeds.len() >= 20, "the recorded samples are the seeds");
    let n = run("capture_reader", fuzzing::capture_reader, seeds, 40, 60);
    assert!(n > 2000, "{n} inputs");
}

#[test]
fn har_import_survives_damaged_har_files() {
    let mut seeds = Vec::new();
    let shared = root().join("../shared/interop/har");
    if shared.is_dir() {
        seeds = files_in(&shared, &["har"]);
        seeds.retain(|s| s.len() < 400_000);
    } else {
        eprintln!(
            "skipping the interop HAR seeds: {} is absent",
            shared.display()
        );
    }
    // A HAR our own export wrote, from a recorded sample, is always there.
    let sample = root().join("samples/good-flow.jsonl");
    let har = root().join("target/fuzz-regression-good-flow.har");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_oauthscope"))
        .arg("export")
        .arg(&sample)
        .arg("--no-redact")
        .arg("--har")
        .arg(&har)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    seeds.push(std::fs::read(&har).unwrap());
    let n = run("har_import", fuzzing::har_import, seeds, 25, 40);
    assert!(n > 60, "{n} inputs");
}

#[test]
fn connector_definitions_survive_damage() {
    let seeds = files_in(&root().join("samples/connectors"), &["json", "toml"]);
    assert!(!seeds.is_empty());
    let n = run("connector", fuzzing::connector, seeds, 30, 60);
    assert!(n > 200, "{n} inputs");
}

#[test]
fn parsers_survive_damaged_headers_forms_urls_jwts_and_json() {
    let seeds: Vec<Vec<u8>> = [
        &b"Bearer realm=\"api\", error=\"invalid_token\", error_description=\"expired\""[..],
        b"Basic Y29ubmVjdG9yLWFwcDpzM2NyZXQ=",
        b"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjEsImF1ZCI6WyJhIl19.c2ln",
        b"grant_type=refresh_token&refresh_token=rt-1&client_id=a%20b%zz",
        b"https://app.example:8443/cb?code=abc&state=x#access_token=t&expires_in=3600",
        b"{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"expires_in\":\"3600\"}",
        b"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
        // JWS headers of every algorithm family, a JWK set with broken members.
        b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImUifQ.eyJzdWIiOiJ4In0.AAAA",
        b"eyJhbGciOiJFZERTQSIsImtpZCI6ImQifQ.e30.c2ln",
        b"eyJhbGciOiJQUzI1NiJ9.e30.",
        b"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"x5c\":[\"MIIB\"]},{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let n = run("parsers", fuzzing::parsers, seeds, 20, 200);
    assert!(n > 1000, "{n} inputs");
}

#[test]
fn classification_survives_odd_exchanges() {
    let seeds: Vec<Vec<u8>> = [
        &b"POST\x00https://login.example/oauth2/token\x00content-type: application/x-www-form-urlencoded\nauthorization: Basic YTpi\x00grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fapp\x00200\x00content-type: application/json\x00{\"access_token\":\"at\",\"expires_in\":3600,\"refresh_token\":\"rt\"}"[..],
        b"GET\x00https://api.example/v1/me\x00authorization: Bearer at\x00\x00401\x00www-authenticate: Bearer error=\"invalid_token\"\x00",
        b"GET\x00https://login.example/authorize?response_type=code&client_id=a&redirect_uri=https://app/cb\x00\x00\x00302\x00location: https://app/cb?code=xyz&state=1\x00",
        b"POST\x00/token\x00\x00grant_type=refresh_token&refresh_token=\x00400\x00content-type: application/json\x00{\"error\":\"invalid_grant\"}",
        // A JWK set, a device authorization, a DPoP-bound call, a client assertion.
        b"GET\x00https://login.example/jwks\x00\x00\x00200\x00content-type: application/json\x00{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        b"POST\x00https://login.example/device_authorization\x00\x00client_id=a&scope=x\x00200\x00content-type: application/json\x00{\"device_code\":\"dc\",\"user_code\":\"U\",\"verification_uri\":\"https://x\",\"interval\":\"5\"}",
        b"GET\x00https://api.example/v1/me\x00authorization: DPoP at\ndpop: eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIn19.eyJodG0iOiJHRVQifQ.AAAA\x00\x00401\x00www-authenticate: DPoP error=\"use_dpop_nonce\"\ndpop-nonce: n\x00",
        b"POST\x00https://login.example/token\x00\x00grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhIiwic3ViIjoiYiIsImF1ZCI6W119.c2ln\x00401\x00content-type: application/json\x00{\"error\":\"invalid_client\"}",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let n = run("classification", fuzzing::classification, seeds, 30, 300);
    assert!(n > 1000, "{n} inputs");
}
