// Placeholder until the engine launcher lands: integration tests need the project database.
export default function setup(): void {}
