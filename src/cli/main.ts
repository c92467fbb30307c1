// Placeholder entry; replaced by the real CLI.
console.log("sluice: CLI not implemented yet");
