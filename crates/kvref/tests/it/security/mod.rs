//! Hostile answers: redirects, oversized and endless bodies, foreign secret ids, echoed
//! credentials and terminal escapes, expired tokens, rejected certificates, and local mode
//! next to a real credential. Each goes through the emulator's fault injection or a hostile
//! listener of the test's own on 127.0.0.1.

mod answers;
mod bodies;
mod hostile;
mod local_mode;
mod redirects;
