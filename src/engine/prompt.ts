import { LlamaText, resolveChatWrapper, type LlamaModel, type Token } from "node-llama-cpp";

/** The fixed text around a long body: system instruction and user turn before it, question after it. */
export interface PromptParts {
  system: string;
  /** Precedes the body inside the user turn (an instruction such as "Summarize the following text:\n"). */
  lead?: string;
  /** Follows the body inside the user turn; may be empty. */
  question: string;
  /** Starts the answer, so that the first generated tokens are the answer itself. */
  answerPrefix: string;
  /** Replaces `answerPrefix` in the plain format, where no chat turn tells a base model that an answer starts. */
  plainAnswerPrefix?: string;
}

/** Tokens before and after the body; the body's own tokens go between them unchanged. */
export interface PromptFrame {
  prefix: Token[];
  suffix: Token[];
  /** The chat wrapper used, or "plain" for a model without a chat template. */
  format: string;
}

const BODY_MARKER = "\u0001BODY\u0001";

/** Tokens of text that continues a sequence (no tokenizer-added leading space, no BOS). */
export function tokenizeContinuation(model: LlamaModel, text: string): Token[] {
  return dropHiddenLeadingSpace(model, model.tokenize(text, false, "trimLeadingSpace"));
}

/**
 * A SentencePiece tokenizer puts a lone "▁" token before text that starts with a newline ("\n\nQ?" → ▁ \n \n Q ?),
 * and node-llama-cpp's "trimLeadingSpace" keeps it (detokenizing drops a leading space, so its check passes).
 * Inside a sequence that token is a real space: drop it when the tokens read the same without it.
 */
function dropHiddenLeadingSpace(model: LlamaModel, tokens: Token[]): Token[] {
  if (tokens.length < 2 || model.detokenize(tokens.slice(0, 1)) !== "") return tokens;
  return model.detokenize(tokens.slice(1)) === model.detokenize(tokens) ? tokens.slice(1) : tokens;
}

/**
 * Frames a body with the model's chat template when its GGUF has one (node-llama-cpp picks the matching
 * wrapper), otherwise with plain text: BOS, system instruction, body, question and answer prefix.
 */
export function framePrompt(model: LlamaModel, parts: PromptParts): PromptFrame {
  if (typeof model.fileInfo.metadata.tokenizer?.chat_template !== "string") {
    const bos = model.tokens.bos === null ? [] : [model.tokens.bos];
    const answer = parts.plainAnswerPrefix ?? parts.answerPrefix;
    return {
      prefix: [...bos, ...model.tokenize(`${parts.system}\n\n${parts.lead ?? ""}`)],
      suffix: tokenizeContinuation(model, parts.question === "" ? `\n\n${answer}` : `\n\n${parts.question} ${answer}`),
      format: "plain",
    };
  }
  const wrapper = resolveChatWrapper(model);
  const { contextText } = wrapper.generateContextState({
    chatHistory: [
      { type: "system", text: parts.system },
      { type: "user", text: `${parts.lead ?? ""}${BODY_MARKER}${parts.question === "" ? "" : `\n\n${parts.question}`}` },
      { type: "model", response: parts.answerPrefix === "" ? [] : [parts.answerPrefix] },
    ],
  });
  const [before, after] = splitAtMarker(contextText);
  return {
    prefix: before.tokenize(model.tokenizer),
    suffix: dropHiddenLeadingSpace(model, after.tokenize(model.tokenizer, "trimLeadingSpace")),
    format: wrapper.wrapperName,
  };
}

function splitAtMarker(text: LlamaText): [LlamaText, LlamaText] {
  const values = text.values;
  const index = values.findIndex((value) => typeof value === "string" && value.includes(BODY_MARKER));
  if (index < 0) throw new Error("the chat template dropped the user message");
  const [head, tail] = (values[index] as string).split(BODY_MARKER) as [string, string];
  return [LlamaText([...values.slice(0, index), head]), LlamaText([tail, ...values.slice(index + 1)])];
}

/**
 * One user turn and the start of the model's answer in the model's chat template, as tokens (BOS included where
 * the template has it); undefined for a model without a chat template.
 */
export function chatTurnTokens(model: LlamaModel, user: string): { tokens: Token[]; format: string } | undefined {
  if (typeof model.fileInfo.metadata.tokenizer?.chat_template !== "string") return undefined;
  const wrapper = resolveChatWrapper(model);
  const { contextText } = wrapper.generateContextState({ chatHistory: [{ type: "user", text: user }, { type: "model", response: [] }] });
  return { tokens: contextText.tokenize(model.tokenizer), format: wrapper.wrapperName };
}
