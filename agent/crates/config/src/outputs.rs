//! Falco's output channel sections: saker-outputs' own structs, so the sinks
//! read exactly what was parsed (and unknown keys under them are reported
//! here, since that crate does not deny them).

pub use saker_outputs::{
    FileOutput, HttpOutput, OutputsConfig, OutputsQueue, ProgramOutput, StdoutOutput, SyslogOutput,
};
