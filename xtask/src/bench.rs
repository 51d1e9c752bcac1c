pub fn run(_which: &str, _tc: &str) -> anyhow::Result<()> { anyhow::bail!("benchmarks: not yet") }
