//! VM disk images, each opened as the virtual disk it holds.

pub mod qcow2;
