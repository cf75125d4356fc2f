/** PCFG task generators: grammar, recogniser, vocabulary, task sequences, fine-tuning data, batches. */
export * from './grammar';
export * from './recognise';
export * from './vocab';
export * from './tasks';
export * from './finetune';
export * from './batches';
