//! The static field catalogue: every field saker knows, its type, what
//! argument it takes and what it means. Names follow Falco's "Supported
//! Fields" so rules run unmodified.

/// The type of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    Str,
    /// Raw bytes (buffers); compared bytewise.
    Bytes,
    U64,
    I64,
    Bool,
    IpAddr,
    /// An address tested for membership in a network (`fd.net = 10.0.0.0/8`).
    IpNet,
    Port,
    /// A list of strings (each value pushed separately).
    StrList,
    /// Nanoseconds since the epoch.
    AbsTime,
    /// A duration in nanoseconds.
    RelTime,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Bytes => "bytebuf",
            FieldType::U64 => "uint64",
            FieldType::I64 => "int64",
            FieldType::Bool => "bool",
            FieldType::IpAddr => "ipaddr",
            FieldType::IpNet => "ipnet",
            FieldType::Port => "port",
            FieldType::StrList => "list",
            FieldType::AbsTime => "abstime",
            FieldType::RelTime => "reltime",
        }
    }

    /// Compared as text (string operators apply).
    pub fn is_string(self) -> bool {
        matches!(self, FieldType::Str | FieldType::Bytes | FieldType::StrList)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::U64
                | FieldType::I64
                | FieldType::Port
                | FieldType::AbsTime
                | FieldType::RelTime
        )
    }
}

/// What goes between the brackets (or after the dot) of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    None,
    /// `[N]`, required.
    Index,
    /// `[N]`, optional (`proc.aname` alone means any ancestor).
    OptIndex,
    /// `[KEY]`, required.
    Key,
    /// `[KEY]`, optional (`proc.env` alone is the whole environment).
    OptKey,
    /// `evt.arg.NAME`, `evt.arg[N]` or `evt.arg[NAME]`.
    ArgName,
}

/// One catalogue entry.
#[derive(Debug)]
pub struct FieldInfo {
    pub id: FieldId,
    pub name: &'static str,
    pub ty: FieldType,
    pub arg: ArgKind,
    pub desc: &'static str,
}

macro_rules! catalogue {
    ($( $id:ident = $name:literal, $ty:ident, $arg:ident, $desc:literal; )*) => {
        /// Every known field; the discriminant indexes [`CATALOGUE`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum FieldId { $($id),* }

        /// The catalogue, in [`FieldId`] order.
        pub static CATALOGUE: &[FieldInfo] = &[
            $( FieldInfo {
                id: FieldId::$id,
                name: $name,
                ty: FieldType::$ty,
                arg: ArgKind::$arg,
                desc: $desc,
            } ),*
        ];
    };
}

impl FieldId {
    pub fn info(self) -> &'static FieldInfo {
        &CATALOGUE[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn ty(self) -> FieldType {
        self.info().ty
    }
}

catalogue! {
    // evt.*
    EvtNum = "evt.num", U64, None, "event number";
    EvtTime = "evt.time", AbsTime, None, "event timestamp (ns since epoch; text: HH:MM:SS.ns)";
    EvtTimeS = "evt.time.s", Str, None, "event timestamp as HH:MM:SS";
    EvtTimeIso8601 = "evt.time.iso8601", Str, None, "event timestamp in ISO 8601 with ns";
    EvtDatetime = "evt.datetime", Str, None, "event timestamp as YYYY-MM-DD HH:MM:SS.ns";
    EvtRawtime = "evt.rawtime", AbsTime, None, "absolute event timestamp in ns";
    EvtRawtimeS = "evt.rawtime.s", U64, None, "integer part of the event timestamp";
    EvtRawtimeNs = "evt.rawtime.ns", U64, None, "fractional part of the event timestamp";
    EvtRelTime = "evt.reltime", RelTime, None, "ns since capture start";
    EvtLatency = "evt.latency", RelTime, None, "ns between enter and exit of the syscall";
    EvtDir = "evt.dir", Str, None, "event direction: '>' enter, '<' exit";
    EvtType = "evt.type", Str, None, "event (syscall) name, e.g. open";
    EvtTypeIs = "evt.type.is", U64, Key, "1 if the event type is the argument";
    EvtCpu = "evt.cpu", U64, None, "CPU number";
    EvtArgs = "evt.args", Str, None, "all event arguments as text";
    EvtArg = "evt.arg", Str, ArgName, "one event argument as text, by name (evt.arg.NAME) or index (evt.arg[N])";
    EvtRawArg = "evt.rawarg", Str, ArgName, "one event argument, raw";
    EvtInfo = "evt.info", Str, None, "event arguments or a description";
    EvtBuffer = "evt.buffer", Bytes, None, "the binary data buffer of I/O events";
    EvtBufLen = "evt.buflen", U64, None, "length of the data buffer";
    EvtRes = "evt.res", Str, None, "return value as text: SUCCESS or the error code name";
    EvtRawRes = "evt.rawres", I64, None, "return value as a number";
    EvtFailed = "evt.failed", Bool, None, "true if the call returned an error";
    EvtIsIo = "evt.is_io", Bool, None, "true for read or write events";
    EvtIsIoRead = "evt.is_io_read", Bool, None, "true for read events";
    EvtIsIoWrite = "evt.is_io_write", Bool, None, "true for write events";
    EvtIoDir = "evt.io_dir", Str, None, "r for reads, w for writes";
    EvtIsWait = "evt.is_wait", Bool, None, "true for blocking events";
    EvtWaitLatency = "evt.wait_latency", RelTime, None, "time spent waiting";
    EvtIsSyslog = "evt.is_syslog", Bool, None, "true for writes to /dev/log";
    EvtCount = "evt.count", U64, None, "1 for every event";
    EvtCountError = "evt.count.error", U64, None, "1 for failed events";
    EvtAround = "evt.around", U64, Key, "sysdig-only time window filter";
    EvtAbspath = "evt.abspath", Str, None, "absolute path of the event's path argument";
    EvtAbspathSrc = "evt.abspath.src", Str, None, "absolute source path (rename, link)";
    EvtAbspathDst = "evt.abspath.dst", Str, None, "absolute destination path (rename, link)";
    EvtIsOpenRead = "evt.is_open_read", Bool, None, "true for open calls with read access";
    EvtIsOpenWrite = "evt.is_open_write", Bool, None, "true for open calls with write access";
    EvtIsOpenExec = "evt.is_open_exec", Bool, None, "true for open calls creating executable files";
    EvtIsOpenCreate = "evt.is_open_create", Bool, None, "true for open calls that created the file";
    EvtSource = "evt.source", Str, None, "event source name (syscall)";
    EvtHostname = "evt.hostname", Str, None, "host name";
    EvtPluginName = "evt.pluginname", Str, None, "plugin that produced the event";
    EvtAsyncType = "evt.asynctype", Str, None, "async event type";
    // thread.*
    ThreadTid = "thread.tid", U64, None, "thread id";
    ThreadVtid = "thread.vtid", U64, None, "thread id in its pid namespace";
    ThreadCapEffective = "thread.cap_effective", Str, None, "effective capabilities, space separated";
    ThreadCapPermitted = "thread.cap_permitted", Str, None, "permitted capabilities, space separated";
    ThreadCapInheritable = "thread.cap_inheritable", Str, None, "inheritable capabilities";
    ThreadIsMainThread = "thread.ismain", Bool, None, "true for the main thread";
    ThreadExectime = "thread.exectime", RelTime, None, "CPU time of the last scheduled thread";
    ThreadTotExectime = "thread.totexectime", RelTime, None, "total CPU time of the thread";
    // proc.*
    ProcPid = "proc.pid", U64, None, "process id";
    ProcTid = "proc.tid", U64, None, "thread id";
    ProcPpid = "proc.ppid", U64, None, "parent process id";
    ProcVpid = "proc.vpid", U64, None, "process id in its pid namespace";
    ProcPvpid = "proc.pvpid", U64, None, "parent process id in its pid namespace";
    ProcSid = "proc.sid", U64, None, "session id";
    ProcVpgid = "proc.vpgid", U64, None, "process group id in its pid namespace";
    ProcName = "proc.name", Str, None, "executable name (comm or argv[0] basename)";
    ProcExe = "proc.exe", Str, None, "first command line argument (argv[0])";
    ProcExepath = "proc.exepath", Str, None, "full path of the executable";
    ProcArgs = "proc.args", Str, None, "command line arguments after argv[0], space separated";
    ProcCmdline = "proc.cmdline", Str, None, "name plus arguments";
    ProcCmdnargs = "proc.cmdnargs", U64, None, "number of command line arguments";
    ProcCmdlenargs = "proc.cmdlenargs", U64, None, "total length of the arguments";
    ProcExeline = "proc.exeline", Str, None, "argv[0] plus arguments";
    ProcCwd = "proc.cwd", Str, None, "current working directory";
    ProcEnv = "proc.env", Str, OptKey, "environment, or one variable with proc.env[NAME]";
    ProcTty = "proc.tty", U64, None, "controlling terminal (0 if none)";
    ProcNthreads = "proc.nthreads", U64, None, "number of threads";
    ProcNchilds = "proc.nchilds", U64, None, "number of child threads";
    ProcLoginShellId = "proc.loginshellid", U64, None, "pid of the oldest shell ancestor";
    ProcSname = "proc.sname", Str, None, "name of the session leader";
    ProcSidExe = "proc.sid.exe", Str, None, "argv[0] of the session leader";
    ProcSidExepath = "proc.sid.exepath", Str, None, "executable path of the session leader";
    ProcVpgidName = "proc.vpgid.name", Str, None, "name of the process group leader";
    ProcVpgidExe = "proc.vpgid.exe", Str, None, "argv[0] of the process group leader";
    ProcVpgidExepath = "proc.vpgid.exepath", Str, None, "executable path of the process group leader";
    ProcPname = "proc.pname", Str, None, "parent name";
    ProcPcmdline = "proc.pcmdline", Str, None, "parent command line";
    ProcPexe = "proc.pexe", Str, None, "parent argv[0]";
    ProcPexepath = "proc.pexepath", Str, None, "parent executable path";
    ProcAname = "proc.aname", Str, OptIndex, "ancestor name: [N] is the Nth ancestor ([0] self), none means any ancestor";
    ProcApid = "proc.apid", U64, OptIndex, "ancestor pid";
    ProcAexe = "proc.aexe", Str, OptIndex, "ancestor argv[0]";
    ProcAexepath = "proc.aexepath", Str, OptIndex, "ancestor executable path";
    ProcAcmdline = "proc.acmdline", Str, OptIndex, "ancestor command line";
    ProcDuration = "proc.duration", RelTime, None, "ns since the process started";
    ProcStartTs = "proc.start_ts", AbsTime, None, "process start time";
    ProcPidTs = "proc.pid.ts", AbsTime, None, "process start time";
    ProcFdopencount = "proc.fdopencount", U64, None, "number of open fds";
    ProcIsExeWritable = "proc.is_exe_writable", Bool, None, "executable is writable by the user";
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer", Bool, None, "executable is in the overlayfs upper layer";
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd", Bool, None, "executable is a memfd";
    ProcIsExeLowerLayer = "proc.is_exe_lower_layer", Bool, None, "executable is in an overlayfs lower layer";
    ProcExeIno = "proc.exe_ino", U64, None, "inode of the executable";
    ProcExeInoCtime = "proc.exe_ino.ctime", AbsTime, None, "ctime of the executable";
    ProcExeInoMtime = "proc.exe_ino.mtime", AbsTime, None, "mtime of the executable";
    ProcExeInoCtimeDurationProcStart = "proc.exe_ino.ctime_duration_proc_start", RelTime, None, "ns between the executable's ctime and the process start";
    ProcExeInoCtimeDurationPidnsStart = "proc.exe_ino.ctime_duration_pidns_start", RelTime, None, "ns between the pid namespace start and the executable's ctime";
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts", AbsTime, None, "start time of the pid namespace init";
    ProcIsVpgidLeader = "proc.is_vpgid_leader", Bool, None, "process is its process group leader";
    ProcIsSidLeader = "proc.is_sid_leader", Bool, None, "process is its session leader";
    ProcIsContainerHealthcheck = "proc.is_container_healthcheck", Bool, None, "process is a container health check";
    ProcIsContainerLivenessProbe = "proc.is_container_liveness_probe", Bool, None, "process is a liveness probe";
    ProcIsContainerReadinessProbe = "proc.is_container_readiness_probe", Bool, None, "process is a readiness probe";
    ProcStdinType = "proc.stdin.type", Str, None, "fd type of stdin";
    ProcStdoutType = "proc.stdout.type", Str, None, "fd type of stdout";
    ProcStderrType = "proc.stderr.type", Str, None, "fd type of stderr";
    ProcStdinName = "proc.stdin.name", Str, None, "name of stdin";
    ProcStdoutName = "proc.stdout.name", Str, None, "name of stdout";
    ProcStderrName = "proc.stderr.name", Str, None, "name of stderr";
    // fd.*
    FdNum = "fd.num", I64, None, "fd number";
    FdType = "fd.type", Str, None, "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, memfd...";
    FdTypechar = "fd.typechar", Str, None, "fd type as one character: f 4 6 u p e s l i b m";
    FdName = "fd.name", Str, None, "full fd name (path or connection tuple)";
    FdNameRaw = "fd.nameraw", Str, None, "fd name as the process gave it";
    FdDirectory = "fd.directory", Str, None, "directory of a file fd";
    FdFilename = "fd.filename", Str, None, "file name without the directory";
    FdIp = "fd.ip", IpAddr, None, "client or server address (matches either)";
    FdCip = "fd.cip", IpAddr, None, "client address";
    FdSip = "fd.sip", IpAddr, None, "server address";
    FdLip = "fd.lip", IpAddr, None, "local address";
    FdRip = "fd.rip", IpAddr, None, "remote address";
    FdPort = "fd.port", Port, None, "client or server port (matches either)";
    FdCport = "fd.cport", Port, None, "client port";
    FdSport = "fd.sport", Port, None, "server port";
    FdLport = "fd.lport", Port, None, "local port";
    FdRport = "fd.rport", Port, None, "remote port";
    FdL4proto = "fd.l4proto", Str, None, "layer 4 protocol: tcp, udp, icmp, raw";
    FdSockfamily = "fd.sockfamily", Str, None, "socket family: ip or unix";
    FdIsServer = "fd.is_server", Bool, None, "the process is the server of the connection";
    FdUid = "fd.uid", Str, None, "unique fd id";
    FdContainerName = "fd.containername", Str, None, "container id plus fd name";
    FdContainerDirectory = "fd.containerdirectory", Str, None, "container id plus directory";
    FdProto = "fd.proto", Str, None, "protocol (client or server)";
    FdCproto = "fd.cproto", Str, None, "client protocol name";
    FdSproto = "fd.sproto", Str, None, "server protocol name";
    FdLproto = "fd.lproto", Str, None, "local protocol name";
    FdRproto = "fd.rproto", Str, None, "remote protocol name";
    FdNet = "fd.net", IpNet, None, "client or server address, for network comparisons";
    FdCnet = "fd.cnet", IpNet, None, "client address, for network comparisons";
    FdSnet = "fd.snet", IpNet, None, "server address, for network comparisons";
    FdLnet = "fd.lnet", IpNet, None, "local address, for network comparisons";
    FdRnet = "fd.rnet", IpNet, None, "remote address, for network comparisons";
    FdConnected = "fd.connected", Bool, None, "socket is connected";
    FdNameChanged = "fd.name_changed", Bool, None, "fd name changed during this event";
    FdCipName = "fd.cip.name", Str, None, "domain name of the client address";
    FdSipName = "fd.sip.name", Str, None, "domain name of the server address";
    FdLipName = "fd.lip.name", Str, None, "domain name of the local address";
    FdRipName = "fd.rip.name", Str, None, "domain name of the remote address";
    FdDev = "fd.dev", U64, None, "device number of the file";
    FdDevMajor = "fd.dev.major", U64, None, "device major number";
    FdDevMinor = "fd.dev.minor", U64, None, "device minor number";
    FdIno = "fd.ino", U64, None, "inode number";
    FdTypes = "fd.types", StrList, OptIndex, "types of the fds used by the event";
    FdIsUpperLayer = "fd.is_upper_layer", Bool, None, "file is in the overlayfs upper layer";
    FdIsLowerLayer = "fd.is_lower_layer", Bool, None, "file is in an overlayfs lower layer";
    // fs.path.*
    FsPathName = "fs.path.name", Str, None, "path of a filesystem event";
    FsPathNameraw = "fs.path.nameraw", Str, None, "path as given";
    FsPathSource = "fs.path.source", Str, None, "source path (rename, link)";
    FsPathSourceraw = "fs.path.sourceraw", Str, None, "source path as given";
    FsPathTarget = "fs.path.target", Str, None, "target path (rename, link)";
    FsPathTargetraw = "fs.path.targetraw", Str, None, "target path as given";
    // user.*, group.*
    UserUid = "user.uid", U64, None, "user id";
    UserName = "user.name", Str, None, "user name";
    UserHomedir = "user.homedir", Str, None, "home directory";
    UserShell = "user.shell", Str, None, "login shell";
    UserLoginuid = "user.loginuid", I64, None, "audit login uid (-1 if unset)";
    UserLoginname = "user.loginname", Str, None, "audit login user name";
    GroupGid = "group.gid", U64, None, "group id";
    GroupName = "group.name", Str, None, "group name";
    // container.*
    ContainerId = "container.id", Str, None, "container id (12 chars), 'host' on the host";
    ContainerFullId = "container.full_id", Str, None, "full container id";
    ContainerName = "container.name", Str, None, "container name, 'host' on the host";
    ContainerImage = "container.image", Str, None, "image name";
    ContainerImageId = "container.image.id", Str, None, "image id";
    ContainerImageRepository = "container.image.repository", Str, None, "image repository";
    ContainerImageTag = "container.image.tag", Str, None, "image tag";
    ContainerImageDigest = "container.image.digest", Str, None, "image digest";
    ContainerType = "container.type", Str, None, "container runtime: docker, containerd, cri-o, podman...";
    ContainerPrivileged = "container.privileged", Bool, None, "container runs privileged";
    ContainerMounts = "container.mounts", Str, None, "mounts as source:dest:mode:rdrw:propagation, comma separated";
    ContainerMount = "container.mount", Str, Key, "mount info for a source path or index";
    ContainerMountSource = "container.mount.source", Str, Key, "source of the mount whose destination matches the argument (glob)";
    ContainerMountDest = "container.mount.dest", Str, Key, "destination of the mount whose source matches the argument (glob)";
    ContainerMountMode = "container.mount.mode", Str, Key, "mode of a mount";
    ContainerMountRdwr = "container.mount.rdwr", Str, Key, "rw flag of a mount";
    ContainerMountPropagation = "container.mount.propagation", Str, Key, "propagation of a mount";
    ContainerStartTs = "container.start_ts", AbsTime, None, "container start time";
    ContainerDuration = "container.duration", RelTime, None, "ns since the container started";
    ContainerIp = "container.ip", Str, None, "container's primary address";
    ContainerCniJson = "container.cni.json", Str, None, "CNI result as JSON";
    ContainerHostPid = "container.host_pid", Bool, None, "container shares the host pid namespace";
    ContainerHostNetwork = "container.host_network", Bool, None, "container shares the host network";
    ContainerHostIpc = "container.host_ipc", Bool, None, "container shares the host IPC namespace";
    ContainerLabel = "container.label", Str, Key, "one container label";
    ContainerLabels = "container.labels", Str, None, "all container labels";
    // k8s.*
    K8sNsName = "k8s.ns.name", Str, None, "namespace name";
    K8sPodName = "k8s.pod.name", Str, None, "pod name";
    K8sPodId = "k8s.pod.id", Str, None, "pod uid (legacy name)";
    K8sPodUid = "k8s.pod.uid", Str, None, "pod uid";
    K8sPodSandboxId = "k8s.pod.sandbox_id", Str, None, "pod sandbox id";
    K8sPodFullSandboxId = "k8s.pod.full_sandbox_id", Str, None, "full pod sandbox id";
    K8sPodLabel = "k8s.pod.label", Str, Key, "one pod label";
    K8sPodLabels = "k8s.pod.labels", StrList, None, "pod labels as key:value";
    K8sPodIp = "k8s.pod.ip", Str, None, "pod address";
    K8sPodCniJson = "k8s.pod.cni.json", Str, None, "pod CNI result as JSON";
    K8sNsLabel = "k8s.ns.label", Str, Key, "one namespace label";
    K8sRcName = "k8s.rc.name", Str, None, "replication controller name";
    K8sRsName = "k8s.rs.name", Str, None, "replica set name";
    K8sSvcName = "k8s.svc.name", Str, None, "service name";
    K8sDeploymentName = "k8s.deployment.name", Str, None, "deployment name";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_the_catalogue_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, f) in CATALOGUE.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{}", f.name);
            assert!(seen.insert(f.name), "duplicate {}", f.name);
        }
    }
}

#[cfg(test)]
mod coverage {
    use crate::fields::resolve;

    /// The common fields named in the "Falco rules language" issue.
    #[test]
    fn has_the_common_falco_fields() {
        let plain = "evt.type evt.time evt.time.iso8601 evt.time.s evt.num evt.res evt.rawres \
            evt.failed evt.dir evt.args evt.is_open_read evt.is_open_write evt.is_open_exec \
            evt.buffer thread.cap_effective thread.cap_permitted thread.cap_inheritable proc.pid \
            proc.tid proc.ppid proc.vpid proc.name proc.exe proc.exepath proc.args proc.cmdline \
            proc.cwd proc.env proc.tty proc.sname proc.pname proc.pcmdline proc.pexe \
            proc.pexepath proc.aname proc.apid proc.aexe proc.aexepath proc.duration \
            proc.is_exe_upper_layer proc.is_exe_from_memfd proc.exe_ino.ctime proc.exe_ino.mtime \
            proc.exe_ino.ctime_duration_proc_start proc.is_vpgid_leader proc.loginshellid fd.num \
            fd.name fd.nameraw fd.directory fd.filename fd.type fd.typechar fd.l4proto fd.sip \
            fd.cip fd.sport fd.cport fd.lport fd.rport fd.ip fd.port fd.net fd.snet fd.cnet \
            fd.rnet fd.sip.name fd.cip.name fd.rip fd.lip fd.sockfamily fd.connected \
            fd.name_changed user.uid user.name user.loginuid user.loginname group.gid group.name \
            container.id container.full_id container.name container.image \
            container.image.repository container.image.tag container.privileged \
            container.start_ts container.mounts k8s.ns.name k8s.pod.name k8s.pod.uid \
            k8s.pod.labels";
        for f in plain.split_whitespace() {
            resolve(f, None).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        for (f, a) in [
            ("proc.aname", "2"),
            ("proc.apid", "1"),
            ("proc.aexe", "2"),
            ("proc.aexepath", "2"),
            ("proc.env", "HOME"),
            ("evt.arg", "0"),
            ("container.mount.dest", "/var/run/docker.sock"),
            ("k8s.pod.label", "app"),
        ] {
            resolve(f, Some(a)).unwrap_or_else(|e| panic!("{f}[{a}]: {e}"));
        }
        resolve("evt.arg.flags", None).unwrap();
    }
}
