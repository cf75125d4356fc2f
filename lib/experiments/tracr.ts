/** The Tracr testbed's experiments (importing this registers tracr-finetune, tracr-prune, tracr-reft). */
export * from './tracrData';
export * from './tracrStages';
export * from './tracrFinetune';
export * from './tracrPrune';
export * from './tracrReft';
