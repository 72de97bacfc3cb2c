//! Problems particular to one step kind (`steps/`) or gate kind (`gates/`): what the kind needs
//! beyond the settings every node has.

use super::Words;
use crate::diagnostic::Code;
use crate::span::Span;
use crate::suggest;

/// A problem with a step of some kind. `what` names the step ("canary step `api`").
#[derive(Debug, Clone, PartialEq)]
pub enum StepProblem<'a> {
    /// `compose` without its file.
    ComposeWithoutFile,
    /// `switch` without its kind; `kinds` and `examples` are the switch kinds'.
    SwitchWithoutKind { kinds: &'a [&'a str], examples: &'a [&'a str] },
    /// A blue-green step whose green is its blue, at `blue`.
    SameColours { blue: Span },
    /// A canary step without stages.
    NoStages { what: &'a str },
    /// A canary stage with both weights; the first is at `first`.
    TwoWeights { first: Span },
    /// A canary stage without a weight.
    NoWeight,
    /// A published port that is not a number; `found` names its type.
    PortNotANumber { found: &'a str },
    /// `publish` without a port.
    PublishWithoutPort,
    /// A pause without a duration or `manual`.
    PauseWithoutDuration { what: &'a str },
    /// `timeout` on a pause that waits a time, not for a person.
    TimeoutOnTimedPause { what: &'a str },
    /// A run step without `command`.
    RunWithoutCommand { what: &'a str },
    /// `parallelism 0`.
    ZeroParallelism,
    /// A `max-failure-ratio` outside 0 to 1.
    FailureRatioOutOfRange { ratio: f64 },
}

impl StepProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use StepProblem::*;
        match *self {
            ComposeWithoutFile => Words::error(Code::MissingField, "`compose` needs the compose file", "no file")
                .help("write `compose \"docker-compose.yml\" service=web`"),
            SwitchWithoutKind { kinds, examples } => {
                Words::error(Code::MissingField, "`switch` does not say how", format!("{}?", suggest::either(kinds)))
                    .help(format!(
                        "write {}",
                        examples.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" or ")
                    ))
            }
            SameColours { blue } => Words::error(Code::BadValue, "blue and green are the same service", "same as blue")
                .note(blue, "blue")
                .help("name two different services, one per colour"),
            NoStages { what } => Words::error(Code::MissingField, format!("{what} has no stages"), "no `stage`")
                .help("add at least one stage: `stage replicas=1 { pause \"5m\"; gates error-rate }`"),
            TwoWeights { first } => {
                Words::error(Code::BadValue, "a stage sets either `replicas` or `traffic`, not both", "second weight")
                    .note(first, "first weight")
                    .help("remove one of them")
            }
            NoWeight => {
                Words::error(Code::MissingField, "this canary stage has no weight", "no `replicas` or `traffic`")
                    .help("write `stage replicas=1 { ... }` or `stage traffic=\"25%\" { ... }`")
            }
            PortNotANumber { found } => Words::error(
                Code::WrongType,
                "a published port must be a number from 1 to 65535",
                format!("found {found}"),
            )
            .help("write `publish 8080 target=80 mode=host`"),
            PublishWithoutPort => Words::error(Code::MissingField, "`publish` needs a port", "no port")
                .help("write `publish 8080 target=80 mode=host`"),
            PauseWithoutDuration { what } => {
                Words::error(Code::MissingField, format!("{what} does not say how long"), "no duration")
                    .help("write `pause NAME \"5m\"` or `pause NAME manual`")
            }
            TimeoutOnTimedPause { what } => Words::error(
                Code::BadValue,
                format!("{what} waits a set time: `timeout` is only for a manual pause"),
                "a timed pause ends by itself",
            )
            .help("drop `timeout`, or write `pause NAME manual timeout=\"4h\"`"),
            RunWithoutCommand { what } => {
                Words::error(Code::MissingField, format!("{what} has no `command`"), "`command` missing")
                    .help("add `command \"sh\" \"-c\" \"...\"`")
            }
            ZeroParallelism => {
                Words::error(Code::BadValue, "`parallelism 0` would update every task at once", "0 means all at once")
                    .help("write the number of tasks to update at a time, such as `parallelism 1`")
            }
            FailureRatioOutOfRange { ratio } => Words::error(
                Code::BadValue,
                "`max-failure-ratio` must be between 0 and 1",
                format!("{ratio} is out of range"),
            )
            .help("write a fraction such as `max-failure-ratio 0.2`"),
        }
    }
}

/// A problem with a gate of some kind. `what` names the gate ("gate `health`").
#[derive(Debug, Clone, PartialEq)]
pub enum GateProblem<'a> {
    /// A gate without a kind; `kinds` and `examples` are the gate kinds'.
    NoMeasurement { what: &'a str, kinds: &'a [&'a str], examples: &'a [&'a str] },
    /// A gate with two kinds; the first is at `first`.
    TwoMeasurements { what: &'a str, first: Span },
    /// `interval` zero.
    ZeroInterval,
    /// Both `count` and `window`; `count` is at `count`.
    CountAndWindow { count: Span },
    /// `count 0`.
    ZeroCount,
    /// A `command` gate without a program.
    CommandWithoutProgram,
    /// A `swarm` gate without a service.
    SwarmWithoutService,
    /// An `http` gate without a URL.
    HttpWithoutUrl,
    /// An `http` gate's URL that is not http or https.
    HttpNotAUrl { url: &'a str },
    /// A status outside 100 to 599.
    NotAStatus { status: u64 },
    /// An `http` gate measured from `network` without the `image` its probe runs.
    NetworkWithoutImage { network: &'a str },
    /// An `http` gate's `image` without `network`.
    ImageWithoutNetwork,
    /// An `http` gate's `network` or `image` (`key`) that is empty.
    EmptyProbeSetting { key: &'a str },
    /// A credential (`setting`) on an `http` gate measured from a network, which sends none.
    CredentialsFromNetwork { setting: &'a str },
    /// `method=HEAD` on an `http` gate measured from a network: busybox `wget` sends GET or POST.
    HeadFromNetwork,
    /// `every-task` on an `http` gate without `network`.
    EveryTaskWithoutNetwork,
    /// `every-task` with a URL whose host is an address (`host`), which has no tasks to list.
    EveryTaskOfAnAddress { host: &'a str },
    /// A `prometheus` server that is not an http or https URL.
    PrometheusNotAUrl { url: &'a str },
    /// A `prometheus` gate without `pass` or `fail`.
    NoCondition,
    /// A condition that does not parse, and why.
    BadCondition { key: &'a str, text: &'a str, why: &'a str },
    /// A gate URL holding `user:password@` (`userinfo`) or a query parameter named like a
    /// credential (`query`); the values are never quoted.
    CredentialsInUrl { userinfo: bool, query: Option<&'a str> },
    /// A header named like a credential with its value written in the plan.
    SecretHeaderInPlan { name: &'a str },
    /// Two ways to authenticate on one gate; the first is at `first`.
    TwoAuthentications { what: &'a str, first: Span },
    /// A `*-file` setting with an empty path.
    EmptyPath,
    /// A `*-env` setting that is not an environment variable name.
    NotAnEnvName { name: &'a str },
    /// `basic-auth` or `header` without its value; `keys` are the settings that give one.
    NoSecret { what: &'a str, keys: &'a [&'a str] },
    /// Two of `keys` where one gives the value; the first is at `first`.
    TwoSources { what: &'a str, keys: &'a [&'a str], first: Span },
    /// A `basic-auth` user holding `:`.
    UserWithColon,
    /// A `header` without its name.
    HeaderWithoutName,
    /// A header name that is not an HTTP token.
    NotAHeaderName { name: &'a str },
    /// The same header twice; the first is at `first`.
    HeaderTwice { name: &'a str, first: Span },
    /// A literal header value holding a control character (a newline).
    NotAHeaderValue,
    /// `baseline` and `baseline-query` on one gate; the first is at `first`.
    TwoBaselines { first: Span },
    /// `margin` or `better` (`key`) on a gate that compares with no baseline.
    WithoutBaseline { key: &'a str },
    /// A `pass` or `fail` threshold on a gate that compares with a baseline, which is at `baseline`.
    ThresholdAndBaseline { baseline: Span },
    /// A baseline without `better`.
    NoBetter,
    /// A baseline's `significance` outside (0, 0.5).
    BadSignificance { value: f64 },
    /// A baseline's `min-samples` under 3 (a U test on fewer cannot reach any usual level).
    FewSamples { value: u64 },
}

impl GateProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use GateProblem::*;
        match *self {
            NoMeasurement { what, kinds, examples } => Words::error(
                Code::MissingField,
                format!("{what} does not say what to measure"),
                format!("no {}", suggest::either(kinds)),
            )
            .help(format!("add one of {}", examples.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", "))),
            TwoMeasurements { what, first } => {
                Words::error(Code::DuplicateField, format!("{what} measures more than one thing"), "second measurement")
                    .note(first, "first measurement")
                    .help("declare one gate per measurement and list both where they are used")
            }
            ZeroInterval => Words::error(Code::BadValue, "a gate's `interval` cannot be zero", "zero")
                .help("write a pause between measurements, such as `interval \"10s\"`"),
            CountAndWindow { count } => {
                Words::error(Code::BadValue, "a gate takes `count` or `window`, not both", "window")
                    .note(count, "count")
                    .help("`count N` takes N measurements; `window \"5m\"` measures every interval for that long")
            }
            ZeroCount => {
                Words::error(Code::BadValue, "`count 0` takes no measurement, so the gate could never fail", "zero")
                    .help("write `count 1` or more")
            }
            CommandWithoutProgram => Words::error(Code::MissingField, "`command` has no program", "program missing")
                .help("write `command \"sh\" \"-c\" \"test -f /ready\"`"),
            SwarmWithoutService => {
                Words::error(Code::MissingField, "`swarm` does not name a service", "service missing")
                    .help("write `swarm prodstack_backend`")
            }
            HttpWithoutUrl => Words::error(Code::MissingField, "`http` has no URL", "URL missing")
                .help("write `http \"http://service:8080/health\"`"),
            HttpNotAUrl { url } => {
                Words::error(Code::BadValue, format!("`{url}` is not an http or https URL"), "not a URL")
                    .help("write the full URL: `http \"http://service:8080/health\"`")
            }
            NotAStatus { status } => {
                Words::error(Code::BadValue, format!("{status} is not an HTTP status"), "not 100 to 599")
                    .help("write the status that passes, such as `status=200`")
            }
            NetworkWithoutImage { network } => Words::error(
                Code::MissingField,
                format!("an `http` gate measured from network `{network}` needs the image its probe runs"),
                "no `image`",
            )
            .help(
                "add the image of the probe's container, one with busybox's `wget` that every node has or can \
                 pull: `image=\"busybox:1.36\"`",
            ),
            ImageWithoutNetwork => Words::error(
                Code::BadValue,
                "`image` only means something on an `http` gate measured from a network",
                "no `network`",
            )
            .help(
                "add the Swarm network to measure from, such as `network=\"shop_backend\"`, or remove `image`: \
                 without `network` the request is sent from the machine running planrun",
            ),
            EmptyProbeSetting { key } => Words::error(Code::BadValue, format!("`{key}` is empty"), "empty")
                .help(match key {
                    "network" => "name the Swarm network as `docker network ls` shows it; a stack's network `backend` \
                                  is `STACK_backend`: `network=\"shop_backend\"`",
                    _ => "name an image with busybox's `wget`: `image=\"busybox:1.36\"`",
                }),
            CredentialsFromNetwork { setting } => Words::error(
                Code::BadValue,
                format!("`{setting}` cannot be sent by an `http` gate measured from a network"),
                "not sent from inside a network",
            )
            .help(
                "the probe runs `wget` in a container by `docker exec`, and Docker keeps an exec's command line in \
                 its event log, so planrun sends no credential that way: probe an endpoint that needs none, or \
                 remove `network` and `image` to send the request from this machine",
            ),
            HeadFromNetwork => Words::error(
                Code::BadValue,
                "an `http` gate measured from a network sends GET or POST, not HEAD",
                "not sent from inside a network",
            )
            .help("the probe sends its request with busybox `wget`, which has no HEAD: write `method=GET`"),
            EveryTaskWithoutNetwork => Words::error(
                Code::BadValue,
                "`every-task` only means something on an `http` gate measured from a network",
                "no `network`",
            )
            .help(
                "add the Swarm network whose DNS lists the service's tasks, with the probe's image: \
                 `network=\"shop_backend\" image=\"busybox:1.36\"`, or remove `every-task`",
            ),
            EveryTaskOfAnAddress { host } => Words::error(
                Code::BadValue,
                format!("`every-task` asks every task of a service, and `{host}` is an address, not a service"),
                "not a service name",
            )
            .help("name the service in the URL as the network reaches it: `http \"http://shop_api:8080/health\"`"),
            PrometheusNotAUrl { url } => {
                Words::error(Code::BadValue, format!("`{url}` is not an http or https URL"), "not a URL")
                    .help("write the server's URL: `prometheus \"http://prometheus:9090\"`")
            }
            NoCondition => Words::error(
                Code::MissingField,
                "this prometheus gate has no condition",
                "no `pass`, `fail` or `baseline`",
            )
            .help(
                "add `pass \"result < 0.001\"` (and optionally `fail \"result > 0.01\"`), or compare with the old \
                 release: `baseline before` and `better lower`",
            ),
            BadCondition { key, text, why } => {
                Words::error(Code::BadCondition, format!("`{text}` is not a condition"), why)
                    .help(format!("write `{key} \"result < 0.001\"`; operators: <, <=, >, >=, ==, !="))
            }
            CredentialsInUrl { userinfo, query } => {
                let mut found = Vec::new();
                if userinfo {
                    found.push("a user and password (`user:password@`)".to_owned());
                }
                found.extend(query.map(|q| format!("a `{q}` parameter")));
                Words::warning(
                    Code::CredentialsInPlan,
                    format!("this URL carries credentials: {}", found.join(" and ")),
                    "credentials in the URL",
                )
                .help(
                    "a secret in a URL is in the plan file, its saved copies and `planrun show`: take it out of \
                     the URL and use `bearer-token-file`, `bearer-token-env`, `basic-auth` or \
                     `header \"NAME\" value-env=VAR` instead",
                )
            }
            SecretHeaderInPlan { name } => Words::warning(
                Code::CredentialsInPlan,
                format!("header `{name}` looks like a credential, and its value is written in the plan"),
                "a secret in the plan",
            )
            .help(format!(
                "read it when the gate is measured: `header \"{name}\" value-env=VAR` or `value-file=\"PATH\"`"
            )),
            TwoAuthentications { what, first } => {
                Words::error(Code::DuplicateField, format!("{what} authenticates more than one way"), "second way")
                    .note(first, "first way")
                    .help(
                        "keep one of `bearer-token-file`, `bearer-token-env`, `basic-auth`, an `Authorization` \
                         header and `user:password@` in the URL",
                    )
            }
            EmptyPath => Words::error(Code::BadValue, "the path is empty", "no file")
                .help("name the file, relative to the plan's directory: `bearer-token-file \"secrets/token\"`"),
            NotAnEnvName { name } => Words::error(
                Code::BadValue,
                format!("`{name}` is not an environment variable name"),
                "not a name",
            )
            .help("write the variable's name, letters, digits and `_`, without `$`: `bearer-token-env PROM_TOKEN`"),
            NoSecret { what, keys } => Words::error(
                Code::MissingField,
                format!("{what} does not say where its value is"),
                format!("no {}", suggest::either(keys)),
            )
            .help(format!("add one of {}", keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
            TwoSources { what, keys, first } => Words::error(
                Code::DuplicateField,
                format!("{what} takes its value from more than one place"),
                "second value",
            )
            .note(first, "first value")
            .help(format!("keep one of {}", keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
            UserWithColon => Words::error(Code::BadValue, "a basic-auth user cannot hold `:`", "`:` in the user")
                .help("basic authentication sends `user:password`, so the user ends at the first `:`"),
            HeaderWithoutName => Words::error(Code::MissingField, "`header` has no name", "name missing")
                .help("write `header \"X-Api-Key\" value-env=API_KEY`"),
            NotAHeaderName { name } => {
                Words::error(Code::BadValue, format!("`{name}` is not an HTTP header name"), "not a header name")
                    .help("a header name is letters, digits and `-` (no spaces or `:`), such as `X-Api-Key`")
            }
            HeaderTwice { name, first } => {
                Words::error(Code::DuplicateField, format!("header `{name}` is set twice"), "second time")
                    .note(first, "first time")
                    .help("set each header once (names are compared without case)")
            }
            NotAHeaderValue => Words::error(
                Code::BadValue,
                "a header value cannot hold a newline or another control character",
                "control character",
            )
            .help("write the value on one line"),
            TwoBaselines { first } => Words::error(
                Code::DuplicateField,
                "a gate compares with `baseline before` or with a `baseline-query`, not both",
                "second baseline",
            )
            .note(first, "first baseline")
            .help(
                "`baseline before` compares with the same query before the run; `baseline-query \"PROMQL\"` with \
                 another series (the stable service beside a canary) at the same instants: keep one",
            ),
            WithoutBaseline { key } => Words::error(
                Code::BadValue,
                format!("`{key}` only means something on a gate that compares with a baseline"),
                "no baseline to compare with",
            )
            .help("add `baseline before` (or `baseline-query \"PROMQL\"`), or remove it"),
            ThresholdAndBaseline { baseline } => Words::error(
                Code::DuplicateField,
                "a prometheus gate judges against a threshold or against a baseline, not both",
                "threshold",
            )
            .note(baseline, "baseline")
            .help("declare two gates, one with the threshold and one with the baseline, and list both where they are used"),
            NoBetter => Words::error(Code::MissingField, "a gate that compares with a baseline must say which way is better", "no `better`")
                .help("add `better lower` (latency, error rate) or `better higher` (throughput, success ratio)"),
            BadSignificance { value } => Words::error(
                Code::BadValue,
                format!("a significance of {value} is not a level a test can use"),
                "not between 0 and 0.5",
            )
            .help("write the p-value under which the new release counts as worse, such as `significance 0.05` (the default) or `0.01` for fewer false alarms"),
            FewSamples { value } => Words::error(
                Code::BadValue,
                format!("{value} samples on each side are too few for a Mann-Whitney test"),
                "under 3",
            )
            .help("write at least 3 (with 3 and 3, p cannot go under 0.05); the default, 8, can tell a worse release at p = 0.0001"),
        }
    }
}
