/**
 * The small English text the embedded base model's byte-level BPE vocabulary is learnt from.
 * Written for plora (no third-party text): everyday prose plus the three domains the experiments
 * use (arithmetic, legal, medical) and the question/answer template of spec §13
 * ("Question: …\nAnswer: …"), so common words and the template become single tokens.
 */
export const EMBEDDED_CORPUS = `Question: What is 12 plus 7?
Answer: 19
Question: What is 45 minus 18?
Answer: 27
Question: What is 6 times 8?
Answer: 48
Question: What is 81 divided by 9?
Answer: 9
Question: What is the sum of 250 and 125?
Answer: 375
Question: If a train travels 60 miles in one hour, how far does it travel in three hours?
Answer: It travels 180 miles.
Question: What does a contract need to be valid?
Answer: A valid contract needs an offer, an acceptance, consideration and the intention to create legal relations.
Question: What is a tort?
Answer: A tort is a civil wrong that causes harm or loss, for which the court may award damages.
Question: Who decides the facts in a jury trial?
Answer: The jury decides the facts, and the judge decides the questions of law.
Question: What is the duty of care?
Answer: The duty of care is the legal obligation to avoid acts or omissions that could reasonably be foreseen to injure others.
Question: What are the common symptoms of influenza?
Answer: Fever, cough, sore throat, muscle aches, headache and fatigue are common symptoms of influenza.
Question: What does the heart do?
Answer: The heart pumps blood through the body, carrying oxygen and nutrients to the tissues.
Question: How is high blood pressure treated?
Answer: High blood pressure is treated with changes in diet and exercise, and with medicines when needed.
Question: What is an antibiotic?
Answer: An antibiotic is a medicine that kills bacteria or stops them from growing; it does not work against viruses.
The morning was cold and clear, and the people of the small town walked to work along the river.
A child asked her mother why the sky is blue, and her mother said that the air scatters blue light more than red light.
The library opens at nine in the morning and closes at six in the evening, except on Sunday.
Water boils at one hundred degrees Celsius at sea level and freezes at zero degrees.
The committee will meet again next week to review the report and to vote on the new policy.
Numbers such as 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100 and 1000 appear in many questions about arithmetic.
The patient should take the medicine twice a day with food and return to the clinic if the pain gets worse.
The court held that the agreement was binding, because both parties had signed it and received consideration.
Every student in the class wrote a short story about their family, their home and their friends.
The farmer planted wheat in the spring and harvested it in the late summer before the rain came.
A good answer is short, correct and clear; a bad answer is long, wrong or hard to understand.
The doctor listened to the patient's heart and lungs, checked the blood pressure and ordered a test.
The law requires that the tenant pay the rent on time and that the landlord keep the house in good repair.
She counted the apples: there were three red apples, four green apples and five yellow apples, twelve in all.
The model learns from examples; with more data and more training it makes fewer mistakes.
When the market closed, the price of the shares had risen by two percent since the morning.
He read the letter twice, folded it carefully and put it back in the envelope on the table.
They travelled by train from the city to the coast, where they stayed for a week by the sea.
If you add 15 and 27 you get 42, and if you subtract 27 from 42 you get 15 again.
The nurse explained that the vaccine helps the body learn to fight the infection without getting sick.
The judge asked the witness to describe what she had seen on the night of the accident.
In the evening the family ate dinner together and talked about their day at school and at work.
`
