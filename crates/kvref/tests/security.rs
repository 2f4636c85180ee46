//! Hostile answers: redirects, oversized and endless bodies, foreign secret ids, echoed
//! credentials and terminal escapes, expired tokens, rejected certificates, and local mode
//! next to a real credential. Each goes through the emulator's fault injection or a hostile
//! listener of the test's own on 127.0.0.1.

#[path = "common/cred_emulator.rs"]
mod cred_emulator;
#[path = "res_support/mod.rs"]
mod res_support;

#[path = "security/answers.rs"]
mod answers;
#[path = "security/bodies.rs"]
mod bodies;
#[path = "security/hostile.rs"]
mod hostile;
#[path = "security/local_mode.rs"]
mod local_mode;
#[path = "security/redirects.rs"]
mod redirects;
